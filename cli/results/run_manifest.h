// run_manifest.h — results/<suite>/manifest.json: the provenance of the results in a directory.
//
// {"schema":"bench.manifest/1","suite":..,"suite_path":..,"suite_sha256":..,
//  "bench_version":..,"git_commit":..,"engine_numerics":..,
//  "host":..,"cpu":..,"cpu_cores":n,"memory_bytes":n,
//  "gpus":[{"index":i,"name":..,"memory_bytes":n}],"driver":"550.54.15"|null,
//  "cuda":"12.4"|null (runtime),"cuda_driver":"12.4"|null (what the driver supports),
//  "models":{"NAME":{"fingerprint":..,"params":n}},"datasets":{"NAME":{"fingerprint":..}},
//  "started":T (the first run's start),"finished":T|null (the last run's end),
//  "runs":[{"started":T,"finished":T|null,"outcome":"running"|"completed"|"interrupted",
//           "host":..,"pid":n,"command":..,"shard":"I/N"|null,"devices":[..],
//           "jobs":n,"skipped":n,"ok":n,"oom":n,"error":n,"crashed":n}]}
// Re-running into the same directory merges: the first start is kept, the end, the machine facts
// and the fingerprints are updated, and the run is appended to "runs" (every run that wrote results
// here, resumed or sharded, is listed). Updates are serialised by a lock on .run/manifest.lock, so
// shards sharing a directory do not lose each other's entries. Paths are not recorded (they may
// come from environment variables); the suite copy beside the manifest has them as written.
#ifndef BENCH_RUN_MANIFEST_H
#define BENCH_RUN_MANIFEST_H

#include "matrix.h"
#include "run_plan.h"
#include "run_probe.h"

#define MANIFEST_SCHEMA_ID "bench.manifest/1"

typedef struct {
  const Suite *suite;
  const Matrix *mx;
  const HostProbe *probe;
  const Lanes *lanes;
  const char *suite_path;    // as given on the command line
  const char *command;       // "bench run ..." as given
  int shard_i, shard_n;
  double started;            // this run's start (wall time)
  long jobs, skipped;        // selected; already done when it started
} ManifestRun;

typedef struct {
  long ok, oom, error, crashed;
  const char *outcome;       // "completed" | "interrupted"
} ManifestEnd;

// Merges this run into DIR/manifest.json (written atomically).
int manifest_begin(const char *dir, const ManifestRun *r, BenchErr *err);
// Records this run's end and counts.
int manifest_end(const char *dir, const ManifestRun *r, const ManifestEnd *e, BenchErr *err);

#endif
