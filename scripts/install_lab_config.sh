#!/usr/bin/env bash
# Install the repository's Jupyter settings into an environment (its sys.prefix), so every
# JupyterLab and Voila started from it is quiet and offline (see lab/README.md):
#   lab/overrides.json           -> PREFIX/share/jupyter/lab/settings/overrides.json
#   lab/jupyter-data/voila/...   -> PREFIX/share/jupyter/voila/templates/gradient-lab/
#   lab/etc/voila.json           -> PREFIX/etc/jupyter/voila.json (voila command) and
#                                   PREFIX/etc/jupyter/jupyter_server_config.d/gradient_lab_voila.json
#                                   (voila/render inside JupyterLab and on Binder)
# Used by the Makefile set-up and by binder/postBuild.
set -euo pipefail
prefix="${1:?usage: install_lab_config.sh PREFIX}"
here="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$prefix/share/jupyter/lab/settings" "$prefix/share/jupyter/voila/templates/gradient-lab" \
         "$prefix/etc/jupyter/jupyter_server_config.d"
cp "$here/lab/overrides.json" "$prefix/share/jupyter/lab/settings/overrides.json"
cp "$here"/lab/jupyter-data/voila/templates/gradient-lab/* "$prefix/share/jupyter/voila/templates/gradient-lab/"
cp "$here/lab/etc/voila.json" "$prefix/etc/jupyter/voila.json"
cp "$here/lab/etc/voila.json" "$prefix/etc/jupyter/jupyter_server_config.d/gradient_lab_voila.json"
