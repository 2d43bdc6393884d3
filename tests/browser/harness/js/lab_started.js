// True once JupyterLab's application object exists and its main dock panel is in the page.
() => !!(window.jupyterapp && window.jupyterapp.started !== undefined
         && document.querySelector('#jp-main-dock-panel'))
