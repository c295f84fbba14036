#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# ./argobox fuzz [TARGET|all] [SECONDS]: builds the libFuzzer targets (clang, -DARGOBOX_FUZZ=ON,
# into build-fuzz/) and runs one or all of them for SECONDS each (default 20), one after the
# other, then prints a table: target, execs/s, coverage (edges) and features, corpus size,
# result. Fails when any target found a crash, a leak, a timeout or ran out of memory; the
# reproducer is kept in build-fuzz/fuzz/artifacts/<target>/ and its path printed.
# The corpus grows in build-fuzz/fuzz/corpus/<target>/ across runs; the seeds in
# tests/fuzz/corpus/<target>/ are read, never written. docs/fuzzing.md.
# Environment: AB_FUZZ_BUILD (build directory, default build-fuzz), AB_FUZZ_TIMEOUT (seconds
# one input may take, default 10), AB_FUZZ_RSS_MB (default 2048).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
target=${1:-all}
secs=${2:-20}
bdir=${AB_FUZZ_BUILD:-build-fuzz}
[[ $secs =~ ^[0-9]+$ ]] && ((secs > 0)) || {
	echo "fuzz: SECONDS must be a positive number, not '$secs'" >&2
	exit 2
}
mapfile -t all < <(cd tests/fuzz && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
if [ "$target" = all ]; then
	targets=("${all[@]}")
elif printf '%s\n' "${all[@]}" | grep -qx -- "$target"; then
	targets=("$target")
else
	echo "fuzz: unknown target '$target'; targets: ${all[*]}" >&2
	exit 2
fi
command -v clang >/dev/null || {
	echo "fuzz: clang is missing (./argobox deps test installs it)" >&2
	exit 1
}

CC=clang cmake -S . -B "$bdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARGOBOX_FUZZ=ON >/dev/null
build_targets=()
for t in "${targets[@]}"; do build_targets+=(--target "fuzz_$t"); done
cmake --build "$bdir" -j"$(nproc)" "${build_targets[@]}" -- --no-print-directory 2>&1 |
	grep -vE '^\[ *[0-9]+%\]' || {
	st=("${PIPESTATUS[@]}")
	((st[0] == 0)) || exit "${st[0]}"
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
rows=()
failed=0
for t in "${targets[@]}"; do
	work=$bdir/fuzz/corpus/$t
	art=$bdir/fuzz/artifacts/$t
	log=$bdir/fuzz/$t.log
	mkdir -p "$work" "$art"
	dict=()
	[ -f "tests/fuzz/dict/$t.dict" ] && dict=(-dict="tests/fuzz/dict/$t.dict")
	printf 'fuzz: %s for %s s\n' "$t" "$secs" >&2
	rc=0
	"$bdir/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout="${AB_FUZZ_TIMEOUT:-10}" \
		-rss_limit_mb="${AB_FUZZ_RSS_MB:-2048}" -print_final_stats=1 "${dict[@]}" \
		-artifact_prefix="$art/" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+' "$log" | grep ' cov: ' | tail -1 || true)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(find "$work" -type f | wc -l)
	result=ok
	if ((rc != 0)); then
		failed=1
		if grep -q 'ERROR: libFuzzer: timeout' "$log"; then
			result=timeout
		elif grep -q 'ERROR: LeakSanitizer' "$log"; then
			result=leak
		elif grep -qE 'out-of-memory|ERROR: libFuzzer: out-of-memory' "$log"; then
			result=oom
		else
			result=crash
		fi
		repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
		{
			echo "fuzz: $t: $result (log: $log)"
			grep -m1 -E 'ERROR:|runtime error:|invariant failed' "$log" || true
			[ -n "$repro" ] && echo "  reproducer: $repro" &&
				echo "  replay: $bdir/tests/fuzz/fuzz_$t $repro" &&
				echo "  once fixed, keep it: cp $repro tests/fuzz/corpus/$t/"
		} >&2
	fi
	rows+=("$(printf '%-12s %10s %8s %8s %8s  %s' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corp" "$result")")
done
printf '%-12s %10s %8s %8s %8s  %s\n' target execs/s cov ft corpus result
printf '%s\n' "${rows[@]}"
exit "$failed"
