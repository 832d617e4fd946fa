#!/usr/bin/env bash
# The agent's real NVML path, for any NVIDIA host: runs `kubetrainer-agent --once` and checks
# that one `gpu` record per GPU came out with DCGM-named fields whose values agree with
# nvidia-smi. Writes $OUT/agent_gpu.jsonl (the records) and $OUT/agent_gpu.md (a table).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-bench/results/gpu}"
mkdir -p "$OUT"
cache="${KUBETRAINER_CACHE:-$HOME/.cache/kubetrainer}"
agent="${KUBETRAINER_AGENT_BIN:-}"
for candidate in "$cache/cargo-target/agent/release/kubetrainer-agent" cluster_agent/target/release/kubetrainer-agent; do
  [[ -z $agent && -x $candidate ]] && agent=$candidate
done
if [[ -z $agent ]]; then
  [[ -d $HOME/.cargo/bin ]] && export PATH="$HOME/.cargo/bin:$PATH"
  command -v cargo >/dev/null || { echo "check_agent: no agent binary and no cargo to build one" >&2; exit 1; }
  bash scripts/setup.core.d/20-agent.sh >&2
  agent="$cache/cargo-target/agent/release/kubetrainer-agent"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pods/default_gpu-check_00000000-0000-4000-8000-000000000000/check"
echo "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ) stdout F gpu check started" \
  > "$work/pods/default_gpu-check_00000000-0000-4000-8000-000000000000/check/0.log"
kmsg=none
[[ -r /dev/kmsg ]] && kmsg=/dev/kmsg
"$agent" --pods-dir "$work/pods" --state-dir "$work/state" --output "file:$work/out" --once \
  --node-name "$(hostname)" --kmsg "$kmsg"
cat "$work"/out/*.jsonl | grep '"kind":"gpu"' > "$OUT/agent_gpu.jsonl" || true
smi=""
command -v nvidia-smi >/dev/null && smi=$(nvidia-smi --query-gpu=index,memory.total,name --format=csv,noheader,nounits)

python3 - "$OUT/agent_gpu.jsonl" "$OUT/agent_gpu.md" "$smi" <<'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
smi = {int(row.split(",")[0]): (float(row.split(",")[1]), row.split(",", 2)[2].strip()) for row in sys.argv[3].splitlines() if row.strip()}
samples = [r for r in records if "DCGM_FI_DEV_GPU_UTIL" in r["metrics"]]
problems = []
if not samples:
    problems.append("no gpu records with DCGM_FI_DEV_GPU_UTIL: NVML was not used")
if smi and len(samples) != len(smi):
    problems.append(f"{len(samples)} gpu records but nvidia-smi lists {len(smi)} GPUs")
required = ["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_TOTAL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_SM_CLOCK"]
rows = ["| GPU | model | util % | FB used / total MiB | nvidia-smi total MiB | temp C | power W | SM MHz |", "|---|---|---|---|---|---|---|---|"]
for record in samples:
    m, index = record["metrics"], int(record["labels"]["gpu"])
    problems += [f"GPU {index}: {name} missing" for name in required if name not in m]
    total_smi = smi.get(index, (None, None))[0]
    if total_smi and abs(m.get("DCGM_FI_DEV_FB_TOTAL", 0) - total_smi) > 0.01 * total_smi:
        problems.append(f"GPU {index}: FB_TOTAL {m.get('DCGM_FI_DEV_FB_TOTAL')} MiB vs nvidia-smi {total_smi}")
    rows.append(f"| {index} | {record['labels']['modelName']} | {m.get('DCGM_FI_DEV_GPU_UTIL', '?'):.0f} | {m.get('DCGM_FI_DEV_FB_USED', 0):.0f} / {m.get('DCGM_FI_DEV_FB_TOTAL', 0):.0f} | {total_smi} | {m.get('DCGM_FI_DEV_GPU_TEMP', '?')} | {m.get('DCGM_FI_DEV_POWER_USAGE', 0):.1f} | {m.get('DCGM_FI_DEV_SM_CLOCK', '?')} |")
status = "passed" if not problems else "FAILED: " + "; ".join(problems)
open(sys.argv[2], "w").write(f"### Agent NVML telemetry check: {status}\n\n" + "\n".join(rows) + "\n")
print("\n".join(rows))
print(f"check_agent: {status}")
sys.exit(1 if problems else 0)
PY
