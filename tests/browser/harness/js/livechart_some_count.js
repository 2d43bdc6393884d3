// True when some LiveChart view under `root` holds exactly `want` rows.
([root, want]) => [...document.querySelectorAll(root + ' .gl-livechart')].some(
  (b) => b.__glView && b.__glView.data('data').length === want)
