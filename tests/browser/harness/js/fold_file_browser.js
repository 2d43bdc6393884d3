// Fold JupyterLab's left area (the file browser) away, so notebooks get the page's width.
() => {
  const s = window.jupyterapp.shell;
  if (!s.leftCollapsed) window.jupyterapp.commands.execute('application:toggle-left-area');
}
