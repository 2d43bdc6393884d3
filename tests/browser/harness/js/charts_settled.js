// True when every LiveChart on the page has drawn or shown its error (a Train panel's chart, empty
// until its button is pressed, counts as settled).
() => [...document.querySelectorAll('.gl-livechart')].every(
  (c) => c.dataset.glRedraws || c.dataset.glError || c.closest('.gl-panel-button'))
