// Run axe-core (already injected) on the elements matching `include` with the rule tags `tags`.
async ([include, tags]) => {
  const present = include.filter((sel) => document.querySelector(sel));
  if (!present.length) return {violations: [], passes: 0, incomplete: 0, checked: 0};
  const res = await window.axe.run({include: present.map((sel) => [sel])},
                                   {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  const nodes = (r) => r.nodes.map((n) => ({target: n.target.join(' '), html: n.html.slice(0, 200),
                                            summary: (n.failureSummary || '').slice(0, 300)}));
  return {
    violations: res.violations.map((r) => ({id: r.id, impact: r.impact, help: r.help, nodes: nodes(r)})),
    passes: res.passes.length, incomplete: res.incomplete.length,
    checked: present.reduce((k, sel) => k + document.querySelectorAll(sel).length, 0),
  };
}
