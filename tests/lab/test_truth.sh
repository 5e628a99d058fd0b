#!/bin/bash
# A short pass of the truth suite (bench/truth.sh): a few diagnoses in each
# of a small set of cells (scenario:family:seed:condition), one TAP line
# per cell, failing on any false accusation: a cause the lab does not
# contain, one that names another hop or router than the culprit, or
# "broken" on a lab that is healthy or latent. Missed and inconclusive runs
# are reported on the cell's line but do not fail it.
#
# TRUTH_TEST_RUNS (default 3) and TRUTH_TEST_CELLS override the defaults.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"
[ -x "$LAB_ROOT/ecntrace" ] || skip_all "ecntrace is not built (make)"

CELLS=${TRUTH_TEST_CELLS:-"seed:4:1:clean seed:6:2:clean deep:6:1:clean equidistant:4:1:clean
lastrouter:6:1:clean twostage:4:1:clean fixed:4:1:clean dscp:6:1:clean single:6:1:clean
unicast:4:1:clean perpacket:6:1:clean bleach:4:1:clean synreset:6:1:clean
seed:6:1:silentbal seed:4:1:loss3 seed:4:1:decline seed:6:1:nat seed:4:1:asym
fixed:6:1:slow single:4:1:rst5 seed:6:1:random seed:6:1:flowlabel"}
TRUTH_TAP=1 TRUTH_RUNS=${TRUTH_TEST_RUNS:-3} TRUTH_CELLS=$CELLS ECNTRACE=$LAB_ROOT/ecntrace \
	bash "$LAB_ROOT/bench/truth.sh"
