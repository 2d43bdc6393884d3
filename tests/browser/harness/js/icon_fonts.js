// "family:status" of every Font Awesome face the page declares (status "error": it failed to load).
() => [...document.fonts].filter((f) => /Font Awesome/i.test(f.family)).map((f) => f.family + ':' + f.status)
