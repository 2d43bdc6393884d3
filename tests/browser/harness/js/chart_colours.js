// The colours each drawn chart uses to tell items apart: items of one mark type with the same dash,
// similar width (within a factor 1.5) and the same symbol shape differ by colour alone (rect marks
// are maps/heatmaps: sequential scales).
(root) => {
  const scope = document.querySelector(root) || document;
  const series = ['mark-line', 'mark-symbol', 'mark-rule', 'mark-area', 'mark-trail'];
  return [...scope.querySelectorAll('.gl-livechart svg.marks')].map((svg, index) => {
    const groups = {};
    for (const g of svg.querySelectorAll('g.role-mark')) {
      const type = [...g.classList].find((c) => c.startsWith('mark-')) || '';
      if (!series.includes(type)) continue;
      for (const item of g.children) {
        const paint = type === 'mark-line' || type === 'mark-rule' ? item.getAttribute('stroke')
          : (item.getAttribute('fill') && item.getAttribute('fill') !== 'none'
             ? item.getAttribute('fill') : item.getAttribute('stroke'));
        if (!paint || paint === 'none' || paint === 'transparent') continue;
        if (Number(item.getAttribute('opacity') ?? 1) < 0.15) continue;  // a faint guide, not a series
        // widths closer than a factor 1.5 do not tell series apart (2 px vs 2.5 px): one bucket
        const width = Number(item.getAttribute('stroke-width') || 1);
        const bucket = width > 0 ? Math.round(Math.log(width) / Math.log(1.5)) : 'none';
        const key = [type, item.getAttribute('stroke-dasharray') || '', bucket,
                     type === 'mark-symbol' ? item.getAttribute('d') || '' : ''].join('|');
        (groups[key] = groups[key] || new Set()).add(paint);
      }
    }
    const title = [...svg.querySelectorAll('.role-title-text')].map((t) => t.textContent).join(' ');
    return {index, title, groups: Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, [...v]]))};
  });
}
