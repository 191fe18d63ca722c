// runner.c — the supervisor of `bench run`: lanes, workers, the job queue, crashes, stop signals,
// progress and the status file (runner.h).
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device.h"
#include "run_status.h"
#include "runner_job.h"
#include "runner_worker.h"
#include "worker_beat.h"

#define STATUS_EVERY_S 0.5      // status file rewritten at most this often while something changes
#define HEARTBEAT_S 5.0         // and this often regardless (progress of the running jobs)
#define LIVE_EVERY_S 0.5        // terminal live line
#define PROGRESS_LINE_S 60.0    // a progress line in run.log while jobs run

// ---- stop signals: the handler only records the signal and wakes poll() through a pipe ----
static volatile sig_atomic_t g_stop_signal;
static int g_wake[2] = {-1, -1};

static void on_stop_signal(int sig) {
  int saved = errno;
  g_stop_signal = sig;
  char c = (char)sig;
  if (g_wake[1] >= 0) {
    ssize_t w = write(g_wake[1], &c, 1);
    (void)w;
  }
  errno = saved;
}

// ---- supervisor state ----
typedef struct {
  char data[4096];
  size_t len;
} LineBuf;

typedef struct {
  int k;                    // lane index
  pid_t pid;                // 0: no worker
  int cmd_fd, evt_fd, err_fd;
  const ModelDef *model;    // the worker's group
  char device[32];
  int loaded;               // its model load was reported
  int retiring;             // told to exit (cmd pipe closed)
  int killed;               // killed by us when abandoning
  int stalled;              // killed by us: its job made no progress for stall_s
  LineBuf evt, err;
  char last_err[512];       // its last stderr line
  long job;                 // RunJob index, -1: idle
  int attempt;
  double start_mono, start_wall;
  double last_progress;     // mono time of the job's last sign of life
  long wdone, wtotal, tokens;
  long sdone, stotal;       // training steps of the running job (0/0: it trains nothing yet)
  double fwd_s;
  FileStamp before;         // the job's result file when it was handed over
} Lane;

typedef struct {
  const RunnerConfig *c;
  RunOutcome *out;
  Lane *lanes;
  int n_lanes;
  long *queue;              // job indices in hand-out order; -1: taken
  long q_len, q_cap, q_head;
  int *crashes;             // [n] crashes per job in this run
  int *load_crashes;        // [groups] workers that died loading the group's model
  int n_groups;
  long done;                // final results recorded in this run
  double cost_done, time_done;  // over jobs that ended ok: measured cost per second and lane
  double queued_cost;
  int stopping, abandon;
  double grace_deadline;
  double last_status, last_live, last_line;
  int status_dirty;
  int status_write_failed;  // said once
  int threads;              // engine threads per worker
  int child_exit;           // set in a forked worker: its exit status
  int is_child;
} Sup;

static void queue_push(Sup *s, long j) {
  if (s->q_len == s->q_cap) {
    s->q_cap = s->q_cap ? 2 * s->q_cap : 64;
    s->queue = xrealloc(s->queue, (size_t)s->q_cap * sizeof *s->queue);
  }
  s->queue[s->q_len++] = j;
  s->queued_cost += s->c->jobs[j].cost;
}

static long queued_count(const Sup *s) {
  long n = 0;
  for (long q = s->q_head; q < s->q_len; q++) n += s->queue[q] >= 0;
  return n;
}

static const char *short_label(const Sup *s, long j, char *buf, size_t n) {
  const Job *job = s->c->jobs[j].job;
  snprintf(buf, n, "%s %.8s L=%ld", s->c->suite->phases[job->phases[0]].id, job->id, job->length);
  return buf;
}

// ---- recording ----
static void count_status(Sup *s, JobStatus st) {
  RunOutcome *o = s->out;
  if (st == JOB_OK) o->ok++;
  else if (st == JOB_OOM) o->oom++;
  else if (st == JOB_CRASHED) o->crashed++;
  else o->error++;
  s->done++;
  s->status_dirty = 1;
  s->last_live = 0;  // redraw the live line at once
}

static long failed_so_far(const Sup *s) { return s->out->oom + s->out->error + s->out->crashed; }

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

// No new job for any worker: each finishes what it runs (or is killed), then exits.
static void retire_all(Sup *s) {
  for (int k = 0; k < s->n_lanes; k++) {
    Lane *ln = &s->lanes[k];
    if (ln->pid && !ln->retiring) {
      close_fd(&ln->cmd_fd);
      ln->retiring = 1;
    }
  }
  s->status_dirty = 1;
}

// A result could not be written (a full disk): nothing more the run computes could be kept, so it
// stops here — no new job, the running ones abandoned — with the reason in out->failure. The
// reserve is given back first so that the status file and the last log lines fit.
static void stop_on_write_failure(Sup *s, long j, const char *msg) {
  const RunnerConfig *c = s->c;
  s->out->unkept++;
  if (!s->out->failure[0]) {
    char *jobs = job_results_dir(c->dir);
    char room[48];
    disk_free_text(jobs, room, sizeof room);
    snprintf(s->out->failure, sizeof s->out->failure, "the result of %s could not be written: %s (%s in %s)",
             c->jobs[j].label, msg, room, jobs);
    free(jobs);
  }
  if (c->space) run_space_release(c->space);
  if (!s->stopping || !s->abandon)
    run_log(c->log, "error: %s; stopping: nothing more this run computes could be kept", s->out->failure);
  s->stopping = 1;
  s->abandon = 1;
  retire_all(s);
}

// Writes a result the worker could not write itself (crashed, or never runnable).
static void record_failure(Sup *s, long j, const char *device, JobStatus st, const char *msg,
                           double started_wall) {
  const RunnerConfig *c = s->c;
  JobResult r;
  job_result_begin(&r, c->suite, c->jobs[j].job, device);
  r.status = st;
  r.error = (char *)msg;
  iso_time_utc(started_wall > 0 ? started_wall : wall_time(), r.started);
  iso_time_utc(wall_time(), r.finished);
  BenchErr err;
  if (job_result_write(c->dir, &r, &err) != 0) stop_on_write_failure(s, j, err.msg);
  job_result_release(&r);
}

static double metric(const JobResult *r, const char *key) {
  json_t *v = r->metrics ? json_object_get(r->metrics, key) : NULL;
  return json_is_number(v) ? json_number_value(v) : NAN;
}

// A job's result file is there: count it and log it.
static void accept_result(Sup *s, Lane *ln, long j, const char *note) {
  const RunnerConfig *c = s->c;
  const RunJob *rj = &c->jobs[j];
  JobResult r;
  BenchErr err;
  long k = c->skipped + s->done + 1;
  if (job_result_load(c->dir, rj->job->id, rj->job->spec, &r, &err) != RESULT_VALID) {
    run_log(c->log, "[%ld/%ld] %s: error: its result file is not valid read back: %s", k, c->total,
            rj->label, err.msg);
    count_status(s, JOB_ERROR);
    return;
  }
  if (r.status == JOB_OK) {
    double secs = ln ? mono_time() - ln->start_mono : 0;
    if (secs > 0) {
      s->cost_done += rj->cost;
      s->time_done += secs;
    }
    run_log(c->log, "[%ld/%ld] %s: ok ppl %.6g nll %.4f±%.4f, %.0f tokens, %.0f tokens/s (%.1f s)%s", k,
            c->total, rj->label, metric(&r, "ppl"), metric(&r, "nll"), metric(&r, "nll_stderr"),
            metric(&r, "tokens"), metric(&r, "tokens_per_s"), metric(&r, "wall_s"), note);
  } else {
    run_log(c->log, "[%ld/%ld] %s: %s: %s%s", k, c->total, rj->label, job_status_name(r.status),
            r.error ? r.error : "", note);
  }
  count_status(s, r.status);
  job_result_free(&r);
}

// ---- workers ----
static void lane_reset(Lane *ln) {
  int k = ln->k;
  memset(ln, 0, sizeof *ln);
  ln->k = k;
  ln->cmd_fd = ln->evt_fd = ln->err_fd = -1;
  ln->job = -1;
}

static void apply_mem_limit(size_t bytes) {
  if (!bytes) return;
  struct rlimit rl = {(rlim_t)bytes, (rlim_t)bytes};
  if (setrlimit(RLIMIT_AS, &rl) != 0)
    fprintf(stderr, "bench: warning: cannot limit the worker's memory to %zu bytes: %s\n", bytes,
            strerror(errno));
}

// Forks a worker for (model, device) in lane ln. Returns 0 in the supervisor, 1 in the worker once
// it has finished (s->child_exit set), -1 when no worker could be started.
static int spawn(Sup *s, Lane *ln, const ModelDef *model, const char *device) {
  const RunnerConfig *c = s->c;
  int cmd[2], evt[2], err[2];
  if (pipe2(cmd, O_CLOEXEC) != 0) return -1;
  if (pipe2(evt, O_CLOEXEC) != 0) {
    close(cmd[0]);
    close(cmd[1]);
    return -1;
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(cmd[0]);
    close(cmd[1]);
    close(evt[0]);
    close(evt[1]);
    return -1;
  }
  fflush(NULL);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int fds[6] = {cmd[0], cmd[1], evt[0], evt[1], err[0], err[1]};
    for (int i = 0; i < 6; i++) close(fds[i]);
    return -1;
  }
  if (pid == 0) {
    // The worker: keep only its own pipe ends; never touch the supervisor's files or lock.
    s->is_child = 1;
    for (int i = 0; i < s->n_lanes; i++) {
      close_fd(&s->lanes[i].cmd_fd);
      close_fd(&s->lanes[i].evt_fd);
      close_fd(&s->lanes[i].err_fd);
    }
    close_fd(&g_wake[0]);
    close_fd(&g_wake[1]);
    close(cmd[1]);
    close(evt[0]);
    close(err[0]);
    run_lock_forget(c->lock);
    c->log->tty = 0;
    c->log->live_shown = 0;
    run_log_detach(c->log);
    dup2(err[1], STDERR_FILENO);
    dup2(err[1], STDOUT_FILENO);
    close(err[1]);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // the supervisor died before the line above
    // The CUDA driver maps the device's memory into the address space: a GPU worker under
    // RLIMIT_AS could not even open its device, so only CPU workers are capped.
    if (strncmp(device, "cuda", 4) != 0) apply_mem_limit(c->mem_limit);
    WorkerSpec w = {c->suite, c->dir, c->jobs, c->n, gpu_refusal(c->gpu_refused, c->n_gpu_refused, device),
                    model, device, s->threads,
                    cmd[0], evt[1], c->stall_s > 0 ? worker_beat_interval(c->stall_s) : 0};
    s->child_exit = worker_main(&w);
    close(cmd[0]);
    close(evt[1]);
    fflush(NULL);
    return 1;
  }
  close(cmd[0]);
  close(evt[1]);
  close(err[1]);
  lane_reset(ln);
  ln->pid = pid;
  ln->cmd_fd = cmd[1];
  ln->evt_fd = evt[0];
  ln->err_fd = err[0];
  ln->model = model;
  snprintf(ln->device, sizeof ln->device, "%s", device);
  return 0;
}

static void hand_over(Sup *s, Lane *ln, long q) {
  const RunnerConfig *c = s->c;
  long j = s->queue[q];
  s->queue[q] = -1;
  while (s->q_head < s->q_len && s->queue[s->q_head] < 0) s->q_head++;
  s->queued_cost -= c->jobs[j].cost;
  ln->job = j;
  ln->attempt = s->crashes[j] + 1;
  ln->start_mono = ln->last_progress = mono_time();
  ln->start_wall = wall_time();
  ln->wdone = ln->wtotal = ln->tokens = 0;
  ln->sdone = ln->stotal = 0;
  ln->fwd_s = 0;
  char *path = job_result_path(c->dir, c->jobs[j].job->id);
  file_stamp(path, &ln->before);
  free(path);
  char line[64];
  int n = snprintf(line, sizeof line, "job %ld %d\n", j, ln->attempt);
  ssize_t w = write(ln->cmd_fd, line, (size_t)n);
  (void)w;  // a worker that is gone shows up as EOF on its event pipe
  s->status_dirty = 1;
  s->last_live = 0;
}

// Gives lane ln something to do. Returns 1 in a worker process that has finished, -1 when a worker
// could not be started, 0 otherwise.
static int assign(Sup *s, Lane *ln) {
  if (ln->retiring || (ln->pid && ln->job >= 0)) return 0;
  const RunnerConfig *c = s->c;
  long same = -1, any = -1;
  char buf[32], any_dev[32] = "";
  for (long q = s->q_head; q < s->q_len; q++) {
    long j = s->queue[q];
    if (j < 0) continue;
    const Job *job = c->jobs[j].job;
    const char *dev = lane_device(c->lanes, ln->k, job, buf, sizeof buf);
    if (!dev) continue;
    if (ln->pid && job->model == ln->model && strcmp(dev, ln->device) == 0) {
      same = q;
      break;
    }
    if (any < 0) {
      any = q;
      snprintf(any_dev, sizeof any_dev, "%s", dev);
      if (!ln->pid) break;
    }
  }
  if (ln->pid) {
    if (same >= 0) {
      hand_over(s, ln, same);
    } else {  // nothing left for this worker's model here: let it exit; a new one follows
      close_fd(&ln->cmd_fd);
      ln->retiring = 1;
    }
    return 0;
  }
  if (any < 0) return 0;
  const ModelDef *model = c->jobs[s->queue[any]].job->model;
  int rc = spawn(s, ln, model, any_dev);
  if (rc != 0) return rc;
  run_log(c->log, "worker %d started on %s for model '%s'", (int)ln->pid, ln->device,
          model ? model->name : "(trained)");
  hand_over(s, ln, any);
  return 0;
}

static void describe_exit(int status, char *out, size_t n) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    snprintf(out, n, "killed by signal %d (%s)%s", sig, strsignal(sig),
             sig == SIGKILL ? ", perhaps by the kernel's out-of-memory killer" : "");
  } else if (WIFEXITED(status)) {
    snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
  } else {
    snprintf(out, n, "ended with wait status %d", status);
  }
}

static void give_up_model(Sup *s, const ModelDef *model, const char *why) {
  const RunnerConfig *c = s->c;
  for (long q = s->q_head; q < s->q_len; q++) {
    long j = s->queue[q];
    if (j < 0 || c->jobs[j].job->model != model) continue;
    s->queue[q] = -1;
    s->queued_cost -= c->jobs[j].cost;
    char buf[32];
    const char *dev = lane_device(c->lanes, 0, c->jobs[j].job, buf, sizeof buf);
    record_failure(s, j, dev ? dev : "cpu", JOB_CRASHED, why, 0);
    run_log(c->log, "[%ld/%ld] %s: crashed: %s", c->skipped + s->done + 1, c->total, c->jobs[j].label, why);
    count_status(s, JOB_CRASHED);
  }
}

// The worker of lane ln has exited (its event pipe is at EOF): reap it and settle its job.
static void worker_ended(Sup *s, Lane *ln) {
  const RunnerConfig *c = s->c;
  // Its last stderr lines name the cause of a crash: read what is left.
  char buf[4096];
  for (;;) {
    ssize_t k = read(ln->err_fd, buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    for (ssize_t i = 0; i < k; i++) {
      if (buf[i] == '\n' || ln->err.len + 1 >= sizeof ln->err.data) {
        ln->err.data[ln->err.len] = 0;
        if (ln->err.len) {
          run_log(c->log, "worker %d: %s", (int)ln->pid, ln->err.data);
          snprintf(ln->last_err, sizeof ln->last_err, "%.500s", ln->err.data);
        }
        ln->err.len = 0;
        if (buf[i] == '\n') continue;
      }
      ln->err.data[ln->err.len++] = buf[i];
    }
  }
  if (ln->err.len) {
    ln->err.data[ln->err.len] = 0;
    run_log(c->log, "worker %d: %s", (int)ln->pid, ln->err.data);
    snprintf(ln->last_err, sizeof ln->last_err, "%.500s", ln->err.data);
  }
  int status = 0;
  while (waitpid(ln->pid, &status, 0) < 0 && errno == EINTR) {}
  char how[160];
  describe_exit(status, how, sizeof how);
  int abnormal = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  long j = ln->job;
  if (j >= 0) {
    char *path = job_result_path(c->dir, c->jobs[j].job->id);
    int replaced = file_stamp_changed(&ln->before, path);
    free(path);
    char *msg = ln->stalled
                    ? xasprintf("hung: no sign of life (CPU time or reads) for %g s (BENCH_JOB_STALL_S): the "
                                "worker was killed", c->stall_s)
                    : xasprintf("worker %s%s%s", how, ln->last_err[0] ? "; its last message: " : "", ln->last_err);
    if (replaced) {
      accept_result(s, ln, j, ln->killed ? "" : " (its worker then died)");
    } else if (ln->killed) {
      run_log(c->log, "%s: abandoned (the run was stopped); nothing recorded", c->jobs[j].label);
      s->out->abandoned++;
    } else if (!ln->loaded) {
      const ModelDef *model = ln->model;
      int g = c->jobs[j].group;
      s->load_crashes[g]++;
      queue_push(s, j);
      run_log(c->log, "worker %d died loading model '%s': %s", (int)ln->pid, model ? model->name : "?", msg);
      if (s->load_crashes[g] >= RUNNER_MAX_CRASHES) {
        char *why = xasprintf("%d workers died loading model '%s'; the last: %s", s->load_crashes[g],
                              model ? model->name : "?", msg);
        give_up_model(s, model, why);
        free(why);
      }
    } else {
      s->crashes[j]++;
      int again = s->crashes[j] < RUNNER_MAX_CRASHES && !s->stopping;
      char *why = xasprintf("%s (try %d of %d)", msg, s->crashes[j], RUNNER_MAX_CRASHES);
      record_failure(s, j, ln->device, JOB_CRASHED, why, ln->start_wall);
      if (again) {
        run_log(c->log, "%s: crashed: %s; it will be tried again after the other jobs", c->jobs[j].label, why);
        queue_push(s, j);
      } else {
        run_log(c->log, "[%ld/%ld] %s: crashed: %s%s", c->skipped + s->done + 1, c->total,
                c->jobs[j].label, why, s->stopping ? "" : "; given up");
        count_status(s, JOB_CRASHED);
      }
      free(why);
    }
    free(msg);
  } else if (abnormal && !ln->killed) {
    run_log(c->log, "worker %d (%s, %s) %s between jobs%s%s", (int)ln->pid,
            ln->model ? ln->model->name : "-", ln->device, how, ln->last_err[0] ? "; its last message: " : "",
            ln->last_err);
  }
  close_fd(&ln->cmd_fd);
  close_fd(&ln->evt_fd);
  close_fd(&ln->err_fd);
  lane_reset(ln);
  s->status_dirty = 1;
}

// ---- events ----
static void on_event(Sup *s, Lane *ln, char *line) {
  const RunnerConfig *c = s->c;
  char *msg = strchr(line, '\t');
  if (msg) *msg++ = 0;
  if (strncmp(line, "load ", 5) == 0) {
    ln->loaded = 1;
    ln->last_progress = mono_time();  // loading a large model is not a stall
    unsigned long long params = 0;
    double secs = 0;
    if (sscanf(line, "load ok %llu %lf", &params, &secs) == 2) {
      if (ln->model)
        run_log(c->log, "model '%s' loaded on %s: %llu parameters (%.1f s)", ln->model->name, ln->device,
                params, secs);
    } else {
      run_log(c->log, "model '%s' failed to load: %s", ln->model ? ln->model->name : "?", msg ? msg : "");
    }
  } else if (strcmp(line, "retire") == 0) {
    run_log(c->log, "worker %d (%s) gives way after %s; a fresh worker takes the next job", (int)ln->pid,
            ln->device, msg ? msg : "a device error");
    if (!ln->retiring) {
      close_fd(&ln->cmd_fd);
      ln->retiring = 1;
    }
  } else if (strncmp(line, "start ", 6) == 0) {
    ln->start_mono = ln->last_progress = mono_time();
    ln->start_wall = wall_time();
  } else if (strcmp(line, WORKER_BEAT_EVENT) == 0) {
    ln->last_progress = mono_time();
  } else if (strncmp(line, "prog ", 5) == 0) {
    long j, d, t, tok;
    double f;
    if (sscanf(line, "prog %ld %ld %ld %ld %lf", &j, &d, &t, &tok, &f) == 5 && j == ln->job) {
      ln->last_progress = mono_time();
      ln->wdone = d;
      ln->wtotal = t;
      ln->tokens = tok;
      ln->fwd_s = f;
    }
  } else if (strncmp(line, "tprog ", 6) == 0) {
    long j, d, t, tok;
    double f;
    if (sscanf(line, "tprog %ld %ld %ld %ld %lf", &j, &d, &t, &tok, &f) == 5 && j == ln->job) {
      ln->last_progress = mono_time();
      ln->sdone = d;
      ln->stotal = t;
    }
  } else if (strncmp(line, "done ", 5) == 0) {
    long j;
    int wrote;
    if (sscanf(line, "done %ld %d", &j, &wrote) != 2 || j != ln->job) return;
    if (wrote) {
      accept_result(s, ln, j, "");
    } else {
      stop_on_write_failure(s, j, msg ? msg : "");
    }
    ln->job = -1;
  }
}

// Reads what fd has; calls back per complete line (is_err: a stderr line). Returns 1 at EOF.
static int read_lines(Sup *s, Lane *ln, int is_err) {
  int fd = is_err ? ln->err_fd : ln->evt_fd;
  LineBuf *lb = is_err ? &ln->err : &ln->evt;
  char buf[4096];
  ssize_t k = read(fd, buf, sizeof buf);
  if (k < 0) return errno == EINTR || errno == EAGAIN ? 0 : 1;
  if (k == 0) return 1;
  for (ssize_t i = 0; i < k; i++) {
    int full = lb->len + 1 >= sizeof lb->data;
    if (buf[i] != '\n' && !full) {
      lb->data[lb->len++] = buf[i];
      continue;
    }
    lb->data[lb->len] = 0;
    if (is_err) {
      if (lb->len) {
        run_log(s->c->log, "worker %d: %s", (int)ln->pid, lb->data);
        snprintf(ln->last_err, sizeof ln->last_err, "%.500s", lb->data);
      }
    } else {
      on_event(s, ln, lb->data);
    }
    lb->len = 0;
    if (buf[i] != '\n') lb->data[lb->len++] = buf[i];
  }
  return 0;
}

// ---- progress: ETA, live line, status file ----
// The share of a running job's estimated cost done: its training steps (the training's share of
// the cost), then its windows (the rest).
static double job_fraction_done(const RunJob *rj, const Lane *ln) {
  double train = rj->cost > 0 ? rj->train_cost / rj->cost : 0;
  if (ln->wtotal > 0) return train + (1 - train) * (double)ln->wdone / (double)ln->wtotal;
  if (ln->stotal > 0) return train * (double)ln->sdone / (double)ln->stotal;
  return 0;
}

// Estimated seconds left (-1 unknown): remaining cost over the measured cost per second and lane.
static double eta_seconds(const Sup *s, double *rate_out) {
  const RunnerConfig *c = s->c;
  double rate = s->time_done > 0 ? s->cost_done / s->time_done : 0;
  double remaining = s->queued_cost, now = mono_time();
  long left = queued_count(s);
  for (int k = 0; k < s->n_lanes; k++) {
    const Lane *ln = &s->lanes[k];
    if (!ln->pid || ln->job < 0) continue;
    left++;
    double cost = c->jobs[ln->job].cost;
    double frac = job_fraction_done(&c->jobs[ln->job], ln);
    remaining += cost * (1 - frac);
    if (rate <= 0 && frac > 0 && now > ln->start_mono) rate = cost * frac / (now - ln->start_mono);
  }
  *rate_out = rate;
  if (left == 0) return 0;
  if (rate <= 0) return -1;
  long busy = left < s->n_lanes ? left : s->n_lanes;
  return remaining / (rate * (double)busy);
}

static double tokens_per_s(const Lane *ln) { return ln->fwd_s > 0 ? (double)ln->tokens / ln->fwd_s : 0; }

static void write_status(Sup *s, const char *state, int exit_code) {
  const RunnerConfig *c = s->c;
  StatusRunning *run = xcalloc((size_t)s->n_lanes, sizeof *run);
  int n = 0;
  for (int k = 0; k < s->n_lanes; k++) {
    const Lane *ln = &s->lanes[k];
    if (!ln->pid || ln->job < 0) continue;
    StatusRunning *r = &run[n++];
    r->job_id = c->jobs[ln->job].job->id;
    r->label = c->jobs[ln->job].label;
    r->device = ln->device;
    r->pid = ln->pid;
    r->started = ln->start_wall;
    r->windows_done = ln->wdone;
    r->windows_total = ln->wtotal;
    r->steps_done = ln->sdone;
    r->steps_total = ln->stotal;
    r->tokens_per_s = tokens_per_s(ln);
  }
  double rate;
  double eta = eta_seconds(s, &rate);
  RunStatus st = {.state = state, .command = c->command, .shard_i = c->shard_i, .shard_n = c->shard_n,
                  .started = c->started, .total = c->total, .skipped = c->skipped, .ok = s->out->ok,
                  .oom = s->out->oom, .error = s->out->error, .crashed = s->out->crashed,
                  .remaining = c->total - c->skipped - s->done, .eta_s = exit_code >= 0 ? 0 : eta,
                  .rate = rate, .running = run, .n_running = n, .exit_code = exit_code,
                  .failure = s->out->failure[0] ? s->out->failure : NULL};
  BenchErr err;
  if (run_status_write(c->dir, &st, &err) != 0 && !s->status_write_failed) {
    run_log_warn(c->log, "cannot write the status file ('bench status' will lag): %s", err.msg);
    s->status_write_failed = 1;
  }
  free(run);
  s->last_status = mono_time();
  s->status_dirty = 0;
}

// "3 running: chunks 3fa2c1d0 L=64 window 2/3, 4120 tokens/s" and the ETA, for lines and the live line.
static void describe_progress(const Sup *s, StrBuf *b, int live) {
  const RunnerConfig *c = s->c;
  long fails = failed_so_far(s);
  sb_printf(b, "[%ld/%ld]", c->skipped + s->done, c->total);
  if (fails) {
    char *f = xasprintf("%ld failed", fails);
    char *colored = live ? run_log_color(c->log, "31", f) : xstrdup(f);
    sb_printf(b, " %s", colored);
    free(colored);
    free(f);
  }
  int shown = 0, running = 0;
  for (int k = 0; k < s->n_lanes; k++) {
    const Lane *ln = &s->lanes[k];
    if (!ln->pid || ln->job < 0) continue;
    running++;
    if (shown && live) continue;
    char lb[96];
    sb_printf(b, "%s %s", shown ? ";" : " ·", short_label(s, ln->job, lb, sizeof lb));
    if (s->n_lanes > 1) sb_printf(b, " on %s", ln->device);
    if (ln->wtotal > 0) sb_printf(b, " window %ld/%ld", ln->wdone, ln->wtotal);
    else if (ln->stotal > 0) sb_printf(b, " training step %ld/%ld", ln->sdone, ln->stotal);
    double tps = tokens_per_s(ln);
    if (tps > 0) sb_printf(b, ", %.0f tokens/s", tps);
    shown = 1;
  }
  if (live && running > 1) sb_printf(b, " (+%d more)", running - 1);
  double rate;
  double eta = eta_seconds(s, &rate);
  char t[48];
  if (eta >= 0) {
    format_eta(eta, t, sizeof t);
    sb_printf(b, " · ETA %s", t);
  } else {
    sb_append(b, " · ETA unknown yet");
  }
  if (s->stopping) sb_append(b, " · stopping");
}

static void periodic(Sup *s) {
  const RunnerConfig *c = s->c;
  double now = mono_time();
  if ((s->status_dirty && now - s->last_status >= STATUS_EVERY_S) || now - s->last_status >= HEARTBEAT_S)
    write_status(s, s->stopping ? "stopping" : "running", -1);
  if (c->log->tty && now - s->last_live >= LIVE_EVERY_S) {
    StrBuf b = {0};
    describe_progress(s, &b, 1);
    run_log_live(c->log, b.data);
    sb_free(&b);
    s->last_live = now;
  }
  if (now - s->last_line >= PROGRESS_LINE_S) {
    int running = 0;
    for (int k = 0; k < s->n_lanes; k++) running += s->lanes[k].pid && s->lanes[k].job >= 0;
    if (running) {
      StrBuf b = {0};
      describe_progress(s, &b, 0);
      run_log(c->log, "progress %s", b.data);
      sb_free(&b);
    }
    s->last_line = now;
  }
}

static void start_stopping(Sup *s, int sig) {
  const RunnerConfig *c = s->c;
  if (!s->stopping) {
    s->stopping = 1;
    s->out->stop_signal = sig;
    s->grace_deadline = mono_time() + c->stop_grace_s;
    int running = 0;
    for (int k = 0; k < s->n_lanes; k++) running += s->lanes[k].pid && s->lanes[k].job >= 0;
    if (running)
      run_log(c->log, "received SIG%s: no new jobs; the running job%s may finish for up to %.0f s "
              "(send it again to stop now)", sigabbrev_np(sig) ? sigabbrev_np(sig) : "a signal",
              running == 1 ? "" : "s", c->stop_grace_s);
    else
      run_log(c->log, "received SIG%s: stopping", sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
    retire_all(s);
  } else if (!s->abandon) {
    s->abandon = 1;
    run_log(c->log, "received SIG%s again: stopping now", sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
  }
}

// Kills the workers that have shown no sign of life for stall_s while loading or running a job
// (worker_beat.h): taken for hung.
static void kill_stalled(Sup *s) {
  const RunnerConfig *c = s->c;
  if (c->stall_s <= 0) return;
  double now = mono_time();
  for (int k = 0; k < s->n_lanes; k++) {
    Lane *ln = &s->lanes[k];
    if (!ln->pid || ln->job < 0 || ln->killed || ln->stalled || now - ln->last_progress < c->stall_s)
      continue;
    run_log(c->log, "%s: no sign of life from worker %d for %g s; killing it", c->jobs[ln->job].label,
            (int)ln->pid, c->stall_s);
    kill(ln->pid, SIGKILL);
    ln->stalled = 1;
  }
}

static void kill_workers(Sup *s) {
  for (int k = 0; k < s->n_lanes; k++) {
    Lane *ln = &s->lanes[k];
    if (ln->pid && !ln->killed) {
      kill(ln->pid, SIGKILL);
      ln->killed = 1;
    }
  }
}

// Jobs no lane can run fail at once: pinned to a device this run does not use, or to a GPU that
// failed its check (no worker loads a model for them).
static void refuse_unrunnable(Sup *s) {
  const RunnerConfig *c = s->c;
  for (long q = 0; q < s->q_len; q++) {
    long j = s->queue[q];
    if (j < 0) continue;
    char buf[32], dev[32] = "";
    int ok = 0;
    for (int k = 0; k < s->n_lanes && !ok; k++) {
      const char *d = lane_device(c->lanes, k, c->jobs[j].job, buf, sizeof buf);
      if (d) snprintf(dev, sizeof dev, "%s", d);
      ok = d && !gpu_refusal(c->gpu_refused, c->n_gpu_refused, d);
    }
    if (ok) continue;
    char *why;
    if (dev[0]) {
      why = xstrdup(gpu_refusal(c->gpu_refused, c->n_gpu_refused, dev));
    } else {
      StrBuf devs = {0};
      for (int k = 0; k < c->lanes->n; k++) sb_printf(&devs, "%s%s", k ? "," : "", c->lanes->devices[k]);
      why = xasprintf("the job is pinned to device '%s', which this run does not use (--devices %s)",
                      c->jobs[j].job->device, devs.data);
      sb_free(&devs);
      snprintf(dev, sizeof dev, "%s", c->jobs[j].job->device);
    }
    s->queue[q] = -1;
    s->queued_cost -= c->jobs[j].cost;
    record_failure(s, j, dev, JOB_ERROR, why, 0);
    run_log(c->log, "[%ld/%ld] %s: error: %s", c->skipped + s->done + 1, c->total, c->jobs[j].label, why);
    count_status(s, JOB_ERROR);
    free(why);
  }
  while (s->q_head < s->q_len && s->queue[s->q_head] < 0) s->q_head++;
}

static void sup_free(Sup *s) {
  free(s->lanes);
  free(s->queue);
  free(s->crashes);
  free(s->load_crashes);
}

int runner_run(const RunnerConfig *c, RunOutcome *out, BenchErr *err) {
  memset(out, 0, sizeof *out);
  if (device_cuda_touched())  // the workers forked below could not use a GPU
    return err_set(err, "internal error: the supervisor has initialised CUDA before forking its workers");
  Sup s;
  memset(&s, 0, sizeof s);
  s.c = c;
  s.out = out;
  s.n_lanes = c->lanes->n;
  s.lanes = xcalloc((size_t)s.n_lanes, sizeof *s.lanes);
  for (int k = 0; k < s.n_lanes; k++) {
    s.lanes[k].k = k;
    lane_reset(&s.lanes[k]);
  }
  s.crashes = xcalloc((size_t)c->n + 1, sizeof *s.crashes);
  for (long j = 0; j < c->n; j++)
    if (c->jobs[j].group + 1 > s.n_groups) s.n_groups = c->jobs[j].group + 1;
  s.load_crashes = xcalloc((size_t)s.n_groups + 1, sizeof *s.load_crashes);
  for (long j = 0; j < c->n; j++) queue_push(&s, j);
  int cpu_lanes = 0;
  for (int k = 0; k < s.n_lanes; k++) cpu_lanes += strcmp(c->lanes->devices[k], "cpu") == 0;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  s.threads = cpu_lanes > 1 ? (int)(cores / cpu_lanes > 1 ? cores / cpu_lanes : 1) : 0;

  if (pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    sup_free(&s);
    return err_set(err, "cannot create a pipe: %s", strerror(errno));
  }
  g_stop_signal = 0;
  struct sigaction sa, old_int, old_term, old_hup, old_pipe;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGHUP, &sa, &old_hup);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, &old_pipe);

  refuse_unrunnable(&s);
  if (c->n > 0) {
    if (c->stall_s > 0)
      run_log(c->log, "stall limit: a worker with no sign of life (CPU time or reads) for %g s is taken for "
              "hung and its job recorded crashed (BENCH_JOB_STALL_S)", c->stall_s);
    else
      run_log(c->log, "no stall limit (BENCH_JOB_STALL_S=0): a hung worker holds its job until the run is "
              "stopped");
  }
  write_status(&s, "running", -1);
  s.last_line = mono_time();
  struct pollfd *pfd = xcalloc((size_t)(2 * s.n_lanes + 1), sizeof *pfd);
  for (;;) {
    if (!s.stopping) {
      int child = 0;
      for (int k = 0; k < s.n_lanes && !child; k++) {
        int rc = assign(&s, &s.lanes[k]);
        if (rc == 1) child = 1;
        else if (rc < 0) {
          run_log(c->log, "cannot start a worker process: %s; stopping", strerror(errno));
          s.stopping = 1;
          out->error++;
        }
      }
      if (child) break;
    }
    int active = 0;
    for (int k = 0; k < s.n_lanes; k++) active += s.lanes[k].pid != 0;
    if (!active && (s.stopping || queued_count(&s) == 0)) break;
    if (s.abandon || (s.stopping && mono_time() >= s.grace_deadline)) kill_workers(&s);
    kill_stalled(&s);

    int n = 0;
    pfd[n++] = (struct pollfd){.fd = g_wake[0], .events = POLLIN};
    for (int k = 0; k < s.n_lanes; k++) {
      pfd[n++] = (struct pollfd){.fd = s.lanes[k].evt_fd, .events = POLLIN};
      pfd[n++] = (struct pollfd){.fd = s.lanes[k].err_fd, .events = POLLIN};
    }
    int pr = poll(pfd, (nfds_t)n, 250);
    if (pr < 0 && errno != EINTR) break;
    if (pr > 0 && (pfd[0].revents & POLLIN)) {
      char sigs[16];
      ssize_t k = read(g_wake[0], sigs, sizeof sigs);
      for (ssize_t i = 0; i < k; i++) start_stopping(&s, (unsigned char)sigs[i]);
    }
    for (int k = 0; pr > 0 && k < s.n_lanes; k++) {
      Lane *ln = &s.lanes[k];
      if (!ln->pid) continue;
      if (pfd[2 + 2 * k].revents & (POLLIN | POLLHUP | POLLERR)) read_lines(&s, ln, 1);
      if (pfd[1 + 2 * k].revents & (POLLIN | POLLHUP | POLLERR)) {
        // Complete lines first; at EOF the worker has exited.
        if (read_lines(&s, ln, 0)) worker_ended(&s, ln);
      }
    }
    periodic(&s);
  }
  free(pfd);
  if (s.is_child) {  // a worker process that has finished: hand its exit status up
    out->in_worker = 1;
    out->worker_exit = s.child_exit;
    sup_free(&s);
    return 0;
  }
  for (int k = 0; k < s.n_lanes; k++) {  // an error left workers behind: stop them
    Lane *ln = &s.lanes[k];
    if (!ln->pid) continue;
    kill(ln->pid, SIGKILL);
    ln->killed = 1;
    worker_ended(&s, ln);
  }
  run_log_live(c->log, NULL);
  long failed = failed_so_far(&s);
  int code = out->stop_signal ? 128 + out->stop_signal : failed || out->failure[0] ? 1 : 0;
  write_status(&s, out->failure[0] ? "failed" : out->stop_signal ? "interrupted" : "finished", code);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  sigaction(SIGHUP, &old_hup, NULL);
  sigaction(SIGPIPE, &old_pipe, NULL);
  close_fd(&g_wake[0]);
  close_fd(&g_wake[1]);
  sup_free(&s);
  return 0;
}
