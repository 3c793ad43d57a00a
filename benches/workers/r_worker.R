# Run one benchmark case with lme4 / lmerTest.
#
# Usage: Rscript r_worker.R '<json spec>'   (the spec comes from Case.worker_spec)
# Prints one line "BENCH_RESULT {json}" on stdout.
#
# Timed: lme4::lmer() (kind "lmer") or lmerTest::lmer() + summary() (kind
# "lmer_satterthwaite"), on the already-loaded data.frame, `repeat` times in
# this process. Not timed: library() (import_s) and read.csv() (load_s).
# Memory: peak resident set size of this R process (VmHWM in /proc/self/status;
# NA where /proc does not exist). It includes the R session and the data, and,
# unlike gc()'s "max used", memory that lme4's C++ code (Eigen, CHOLMOD) allocates.

suppressPackageStartupMessages(library(jsonlite))

MARKER <- "BENCH_RESULT "

elapsed <- function() proc.time()[["elapsed"]]

proc_status_mb <- function(field) {
  if (!file.exists("/proc/self/status")) return(NA_real_)
  line <- grep(paste0("^", field, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(strsplit(trimws(sub(paste0(field, ":"), "", line)), "[[:space:]]+")[[1]][1]) / 1024
}

load_data <- function(spec) {
  col_classes <- setNames(rep("factor", length(spec$factors)), spec$factors)
  read.csv(spec$csv, colClasses = col_classes)
}

# Each runner fits the model and returns list(model = <merMod>, df = <named df or NULL>).
runners <- list(
  lmer = function(spec, dat) {
    list(model = lme4::lmer(as.formula(spec$formula), data = dat, REML = TRUE), df = NULL)
  },
  lmer_satterthwaite = function(spec, dat) {
    model <- lmerTest::lmer(as.formula(spec$formula), data = dat, REML = TRUE)
    table <- coef(summary(model))  # Satterthwaite df, as pymer4 / lmerTest users get them
    list(model = model, df = as.list(table[, "df"]))
  }
)

packages_for <- function(kind) {
  if (kind == "lmer_satterthwaite") c("lme4", "lmerTest") else "lme4"
}

summarize_fit <- function(fitted) {
  model <- fitted$model
  conv <- model@optinfo$conv
  notes <- c(unlist(conv$lme4$messages), unlist(model@optinfo$warnings))
  list(
    evaluations = list(objective = model@optinfo$feval, derivative = NULL),
    optimizer = model@optinfo$optimizer,
    reml_crit = unname(lme4::REMLcrit(model)),
    theta = unname(lme4::getME(model, "theta")),
    fixef = as.list(lme4::fixef(model)),
    df = fitted$df,
    converged = identical(as.integer(conv$opt), 0L) && length(notes) == 0,
    notes = I(as.character(notes))
  )
}

run <- function(spec) {
  runner <- runners[[spec$kind]]
  if (is.null(runner)) stop("R worker cannot run kind ", spec$kind)
  start <- elapsed()
  for (pkg in packages_for(spec$kind)) {
    suppressPackageStartupMessages(library(pkg, character.only = TRUE))
  }
  import_s <- elapsed() - start
  start <- elapsed()
  dat <- load_data(spec)
  load_s <- elapsed() - start
  rss_after_load <- proc_status_mb("VmRSS")
  times <- numeric(0)
  fitted <- NULL
  for (i in seq_len(spec[["repeat"]])) {
    fitted <- NULL  # free the previous fit before the next one
    invisible(gc())
    start <- elapsed()
    fitted <- runner(spec, dat)
    times <- c(times, elapsed() - start)
  }
  c(
    list(
      times_s = I(times),
      import_s = import_s,
      load_s = load_s,
      rss_after_load_mb = rss_after_load,
      peak_rss_mb = proc_status_mb("VmHWM"),
      memory_method = "VmHWM (/proc/self/status) of the Rscript process"
    ),
    summarize_fit(fitted)
  )
}

spec <- fromJSON(commandArgs(trailingOnly = TRUE)[1])
result <- run(spec)
cat(MARKER, toJSON(result, auto_unbox = TRUE, digits = NA, null = "null"), "\n", sep = "")
