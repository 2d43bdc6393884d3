// Scroll the page's largest scroller to the top and return how many px of it are hidden below.
() => {
  let best = document.scrollingElement, extra = best.scrollHeight - best.clientHeight;
  for (const e of document.querySelectorAll('*')) {
    const y = getComputedStyle(e).overflowY;
    if ((y === 'auto' || y === 'scroll') && e.scrollHeight - e.clientHeight > extra) {
      best = e; extra = e.scrollHeight - e.clientHeight;
    }
  }
  best.scrollTop = 0;
  return extra;
}
