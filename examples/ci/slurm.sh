#!/usr/bin/env bash
# A seed sweep as a Slurm job array: 8 tasks, each running one shard on the cores it was
# given. Submit from a checkout with simctl built: `sbatch examples/ci/slurm.sh`; when every
# task is done:
#   target/release/simctl merge results/shard-*.jsonl --junit junit.xml
#SBATCH --job-name=simctl-sweep
#SBATCH --array=0-7
#SBATCH --cpus-per-task=4
#SBATCH --output=simctl-sweep-%a.log
set -euo pipefail
mkdir -p results
# Exit 1 (a seed failed) is the merge's to report.
target/release/simctl sweep scenarios/partition.toml --seeds 0..100000 --shard auto --jobs "${SLURM_CPUS_PER_TASK:-1}" --out "results/shard-${SLURM_ARRAY_TASK_ID}.jsonl" --reports results/reports || test $? -eq 1
