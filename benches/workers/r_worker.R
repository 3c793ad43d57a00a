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
#
# Kind "bootstrap": lme4::lmer() once, not timed (base_fit_s); timed, `repeat`
# times: lme4::bootMer() of that fit (params$nsim refits, seed params$seed,
# type = "parametric", use.u = FALSE: the defaults, serial). FUN returns theta,
# the fixed effects and the refit's evaluation count (a slot read, negligible
# next to a refit). The replicates are summarized as the Python worker does
# (summarize_replicates); quantiles are type 7, numpy's default.
#
# Kind "glmer": timed as "lmer", lme4::glmer(..., family = params$family) with
# its defaults (nAGQ = 1: Laplace; optimizers bobyqa then Nelder_Mead; the
# finite-difference gradient and Hessian of calc.derivs = TRUE, which vcov()
# uses). Evaluations a stage are read on exit of lme4's optimizeGlmer (a trace:
# one assignment a stage); the Hessian's are deriv12's 2 p^2 for p parameters
# (theta and beta), computed, not counted.
#
# Kind "diagnostics": lme4::lmer() once (base_fit_s), then, timed, `repeat`
# times: params$task "influence_groups": lme4's influence(m, groups = params$group)
# (a refit without each group, started at the fitted theta; serial, its default)
# and its cooks.distance(); "logo_cv": a loop of lmer() refits without each
# level of params$group, each predicting the level's rows with
# predict(re.form = NA), and the pooled RMSE; "all_fit": lme4's allFit(m)
# (its default optimizers, serially: its default) and summary() of it.
#
# Kind "regression": timed, `repeat` times: params$task "lm2": lme4::lmList(y ~
# x | g) and a t.test() of each column of its coef(); "lm_permute": lm() and
# summary() once, then params$n_perm times lm() + summary() on the data with the
# response sample()d, counting the permuted |t| at least the observed, p = (k +
# 1) / (n + 1) (a loop as an R user writes it). Untimed, after: the same loop
# with the design's QR computed once and qr.coef / qr.resid on the permuted
# response, reported as fast_loop_s.

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
  },
  glmer = function(spec, dat) {
    family <- get(spec$params$family, mode = "function", envir = asNamespace("stats"))
    list(model = lme4::glmer(as.formula(spec$formula), data = dat, family = family), df = NULL)
  }
)

# glmer's evaluations a stage: optimizeGlmer's result on exit (stage 1 is nAGQ = 0)
.glmer_stages <- new.env()
trace_glmer_stages <- function() {
  suppressMessages(trace("optimizeGlmer", where = asNamespace("lme4"), print = FALSE,
    exit = quote(assign(paste0("stage", stage), returnValue()$feval, envir = .glmer_stages))))
}

summarize_glmer <- function(fitted) {
  model <- fitted$model
  conv <- model@optinfo$conv
  notes <- c(unlist(conv$lme4$messages), unlist(model@optinfo$warnings))
  stage1 <- if (exists("stage1", envir = .glmer_stages)) .glmer_stages$stage1 else NULL
  stage2 <- if (exists("stage2", envir = .glmer_stages)) .glmer_stages$stage2 else model@optinfo$feval
  n_par <- length(model@optinfo$val)  # theta and beta (stage 2)
  derivative <- if (is.null(model@optinfo$derivs)) 0L else 2L * n_par^2  # deriv12
  fixef <- lme4::fixef(model)
  list(
    evaluations = list(objective = sum(stage1, stage2), stage1 = stage1, stage2 = stage2,
                       derivative = derivative),
    optimizer = paste(model@optinfo$optimizer, collapse = " + "),
    loglik = as.numeric(stats::logLik(model)),
    theta = I(unname(lme4::getME(model, "theta"))),  # I(): a JSON array even for one value
    fixef = as.list(fixef),
    se = as.list(setNames(sqrt(diag(as.matrix(stats::vcov(model)))), names(fixef))),
    converged = identical(as.integer(conv$opt), 0L) && length(notes) == 0,
    notes = I(as.character(notes))
  )
}

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
    theta = I(unname(lme4::getME(model, "theta"))),  # I(): a JSON array even for one value
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
  if (identical(spec$kind, "glmer")) trace_glmer_stages()
  times <- numeric(0)
  cpu_times <- numeric(0)
  fitted <- NULL
  for (i in seq_len(spec[["repeat"]])) {
    fitted <- NULL  # free the previous fit before the next one
    invisible(gc())
    cpu <- sum(proc.time()[c("user.self", "sys.self")])
    start <- elapsed()
    fitted <- runner(spec, dat)
    times <- c(times, elapsed() - start)
    cpu_times <- c(cpu_times, sum(proc.time()[c("user.self", "sys.self")]) - cpu)
  }
  summarize <- if (identical(spec$kind, "glmer")) summarize_glmer else summarize_fit
  c(
    list(
      times_s = I(times),
      cpu_times_s = I(cpu_times),
      import_s = import_s,
      load_s = load_s,
      rss_after_load_mb = rss_after_load,
      peak_rss_mb = proc_status_mb("VmHWM"),
      memory_method = "VmHWM (/proc/self/status) of the Rscript process"
    ),
    summarize(fitted)
  )
}

# ------------------------------------------------------------------ bootstrap

SINGULAR_TOL <- 1e-4  # lme4's isSingular(): a diagonal element of theta below this

theta_diagonal <- function(cnms) {
  # positions of the diagonal elements in theta (per term, the lower triangle column by column)
  positions <- integer(0)
  start <- 0L
  for (k in lengths(cnms)) {
    cells <- which(lower.tri(diag(k), diag = TRUE), arr.ind = TRUE)  # column by column
    positions <- c(positions, start + which(cells[, "row"] == cells[, "col"]))
    start <- start + nrow(cells)
  }
  positions
}

summarize_replicates <- function(draws, diagonal, n_failed) {
  ok <- stats::complete.cases(draws)
  good <- draws[ok, , drop = FALSE]
  quant <- function(p) unname(apply(good, 2, stats::quantile, probs = p, type = 7))
  list(
    nsim = nrow(draws),
    n_failed = n_failed,
    n_ok = sum(ok),
    n_singular = sum(apply(good[, diagonal, drop = FALSE] < SINGULAR_TOL, 1, any)),
    singular_tol = SINGULAR_TOL,
    parameters = I(colnames(draws)),
    mean = I(unname(colMeans(good))),
    sd = I(unname(apply(good, 2, stats::sd))),
    q025 = I(quant(0.025)),
    q975 = I(quant(0.975))
  )
}

boot_messages <- function(boot) {
  # bootMer's tables of the refits' messages, warnings and errors, as "kind (count): text";
  # messages that differ only in their max|grad| are counted together, with its range
  msgs <- attr(boot, "boot.all.msgs")
  pattern <- "max\\|grad\\| = ([0-9.eE+-]+)"
  notes <- character(0)
  for (kind in names(msgs)) {
    table <- msgs[[kind]]
    if (!length(table)) next
    text <- names(table)
    grad <- suppressWarnings(as.numeric(ifelse(grepl(pattern, text), sub(paste0(".*", pattern, ".*"), "\\1", text), NA)))
    key <- sub(pattern, "max|grad| = <g>", text)
    for (k in unique(key)) {
      in_key <- key == k
      range_text <- if (any(!is.na(grad[in_key]))) {
        sprintf(" [<g> from %.3g to %.3g]", min(grad[in_key], na.rm = TRUE), max(grad[in_key], na.rm = TRUE))
      } else ""
      notes <- c(notes, sprintf("%s (%d): %s%s", kind, sum(as.integer(table[in_key])), k, range_text))
    }
  }
  notes
}

run_bootstrap <- function(spec) {
  start <- elapsed()
  suppressPackageStartupMessages(library(lme4))
  import_s <- elapsed() - start
  start <- elapsed()
  dat <- load_data(spec)
  load_s <- elapsed() - start
  start <- elapsed()
  model <- lme4::lmer(as.formula(spec$formula), data = dat, REML = TRUE)
  base_fit_s <- elapsed() - start
  n_theta <- length(lme4::getME(model, "theta"))
  fun <- function(x) c(lme4::getME(x, "theta"), lme4::fixef(x), feval = x@optinfo$feval)
  rss_before <- proc_status_mb("VmRSS")
  times <- numeric(0)
  cpu_times <- numeric(0)
  boot <- NULL
  identical_reps <- TRUE
  for (i in seq_len(spec[["repeat"]])) {
    previous <- boot
    boot <- NULL
    invisible(gc())
    cpu <- sum(proc.time()[c("user.self", "sys.self")])
    start <- elapsed()
    boot <- lme4::bootMer(model, FUN = fun, nsim = spec$params$nsim, seed = spec$params$seed,
                          use.u = FALSE, type = "parametric")
    times <- c(times, elapsed() - start)
    cpu_times <- c(cpu_times, sum(proc.time()[c("user.self", "sys.self")]) - cpu)
    if (!is.null(previous)) identical_reps <- identical_reps && identical(previous$t, boot$t)
    previous <- NULL
  }
  peak <- proc_status_mb("VmHWM")
  t <- boot$t
  draws <- t[, seq_len(ncol(t) - 1), drop = FALSE]
  colnames(draws) <- c(paste0("theta_", seq_len(n_theta)), names(lme4::fixef(model)))
  feval <- t[stats::complete.cases(draws), ncol(t)]
  block <- c(
    summarize_replicates(draws, theta_diagonal(lme4::getME(model, "cnms")), as.integer(attr(boot, "bootFail"))),
    list(
      seed = spec$params$seed,
      theta_labels = I(names(lme4::getME(model, "theta"))),
      evaluations_per_refit = list(mean = mean(feval), median = stats::median(feval),
                                   min = min(feval), max = max(feval), optimizer = model@optinfo$optimizer),
      identical_across_repeats = if (length(times) > 1) identical_reps else NULL,
      cpu_times_s = I(cpu_times),
      notes = I(boot_messages(boot))
    )
  )
  c(
    list(
      times_s = I(times),
      import_s = import_s,
      load_s = load_s,
      base_fit_s = base_fit_s,
      rss_after_load_mb = rss_before,
      peak_rss_mb = peak,
      memory_method = "VmHWM (/proc/self/status) of the Rscript process"
    ),
    summarize_fit(list(model = model, df = NULL)),
    list(bootstrap = block)
  )
}

diagnostics_task <- function(spec, model, dat) {
  group <- spec$params$group
  if (identical(spec$params$task, "influence_groups")) {
    inf <- influence(model, groups = group)
    cooks <- stats::cooks.distance(inf)
    return(list(levels = I(as.character(rownames(inf[[paste0("fixed.effects[-", group, "]")]]))),
                cooksd_lme4 = I(unname(cooks))))
  }
  if (identical(spec$params$task, "logo_cv")) {
    response <- all.vars(as.formula(spec$formula))[1]
    sq <- 0
    for (l in levels(dat[[group]])) {
      train <- dat[dat[[group]] != l, , drop = FALSE]
      test <- dat[dat[[group]] == l, , drop = FALSE]
      refit <- lme4::lmer(as.formula(spec$formula), data = train, REML = TRUE)
      sq <- sq + sum((test[[response]] - stats::predict(refit, newdata = test, re.form = NA))^2)
    }
    return(list(rmse = sqrt(sq / nrow(dat))))
  }
  if (identical(spec$params$task, "all_fit")) {
    fits <- lme4::allFit(model, verbose = FALSE)
    s <- summary(fits)
    ok <- s$which.OK
    objective <- rep(NA_real_, length(fits))
    objective[ok] <- -2 * unname(s$llik)  # the REML criterion of a REML fit
    converged <- rep(FALSE, length(fits))
    converged[ok] <- vapply(s$msgs, function(m) length(m) == 0, TRUE)
    seconds <- rep(NA_real_, length(fits))
    seconds[ok] <- unname(s$times[, "elapsed"])
    return(list(optimizers = I(names(fits)), objective = I(objective), converged = I(converged),
                seconds = I(seconds)))
  }
  stop("R worker cannot run diagnostics task ", spec$params$task)
}

run_diagnostics <- function(spec) {
  start <- elapsed()
  suppressPackageStartupMessages(library(lme4))
  import_s <- elapsed() - start
  start <- elapsed()
  dat <- load_data(spec)
  load_s <- elapsed() - start
  start <- elapsed()
  model <- lme4::lmer(as.formula(spec$formula), data = dat, REML = TRUE)
  base_fit_s <- elapsed() - start
  rss_before <- proc_status_mb("VmRSS")
  times <- numeric(0)
  cpu_times <- numeric(0)
  found <- NULL
  for (i in seq_len(spec[["repeat"]])) {
    found <- NULL
    invisible(gc())
    cpu <- sum(proc.time()[c("user.self", "sys.self")])
    start <- elapsed()
    found <- diagnostics_task(spec, model, dat)
    times <- c(times, elapsed() - start)
    cpu_times <- c(cpu_times, sum(proc.time()[c("user.self", "sys.self")]) - cpu)
  }
  c(
    list(
      times_s = I(times),
      cpu_times_s = I(cpu_times),
      import_s = import_s,
      load_s = load_s,
      base_fit_s = base_fit_s,
      rss_after_load_mb = rss_before,
      peak_rss_mb = proc_status_mb("VmHWM"),
      memory_method = "VmHWM (/proc/self/status) of the Rscript process"
    ),
    summarize_fit(list(model = model, df = NULL)),
    list(diagnostics = found)
  )
}

# ----------------------------------------------------------------- regression

regression_task <- function(spec, dat) {
  params <- spec$params
  fml <- as.formula(spec$formula)
  if (identical(params$task, "lm2")) {
    grouped <- as.formula(paste(spec$formula, "|", params$group))
    b <- coef(lme4::lmList(grouped, data = dat, pool = FALSE))
    tests <- lapply(b, function(col) stats::t.test(col))
    return(list(
      terms = I(colnames(b)),
      estimate = I(unname(sapply(tests, function(t) unname(t$estimate)))),
      se = I(unname(sapply(tests, function(t) t$stderr))),
      t = I(unname(sapply(tests, function(t) unname(t$statistic)))),
      p = I(unname(sapply(tests, function(t) t$p.value)))
    ))
  }
  if (identical(params$task, "lm_permute")) {
    response <- all.vars(fml)[1]
    table <- coef(summary(lm(fml, data = dat)))
    t_obs <- table[, "t value"]
    set.seed(params$seed)
    extreme <- numeric(length(t_obs))
    permuted <- dat
    for (i in seq_len(params$n_perm)) {
      permuted[[response]] <- sample(dat[[response]])
      t_perm <- coef(summary(lm(fml, data = permuted)))[, "t value"]
      extreme <- extreme + (abs(t_perm) >= abs(t_obs))
    }
    return(list(
      terms = I(rownames(table)),
      estimate = I(unname(table[, "Estimate"])),
      se = I(unname(table[, "Std. Error"])),
      t = I(unname(t_obs)),
      p = I(unname((extreme + 1) / (params$n_perm + 1)))
    ))
  }
  stop("R worker cannot run regression task ", params$task)
}

# The permutation loop with the design's QR computed once (what an R user who
# writes it for speed does); the t statistics from qr.coef / qr.resid.
fast_permutation_loop <- function(spec, dat) {
  fml <- as.formula(spec$formula)
  response <- all.vars(fml)[1]
  x <- model.matrix(fml, dat)
  qx <- qr(x)
  unscaled <- diag(chol2inv(qx$qr[seq_len(qx$rank), seq_len(qx$rank), drop = FALSE]))
  rdf <- nrow(x) - qx$rank
  t_of <- function(y) qr.coef(qx, y) / sqrt(sum(qr.resid(qx, y)^2) / rdf * unscaled)
  t_obs <- t_of(dat[[response]])
  set.seed(spec$params$seed)
  extreme <- numeric(length(t_obs))
  for (i in seq_len(spec$params$n_perm)) {
    extreme <- extreme + (abs(t_of(sample(dat[[response]]))) >= abs(t_obs))
  }
  (extreme + 1) / (spec$params$n_perm + 1)
}

run_regression <- function(spec) {
  start <- elapsed()
  suppressPackageStartupMessages(library(lme4))
  import_s <- elapsed() - start
  start <- elapsed()
  dat <- load_data(spec)
  load_s <- elapsed() - start
  rss_before <- proc_status_mb("VmRSS")
  times <- numeric(0)
  cpu_times <- numeric(0)
  found <- NULL
  for (i in seq_len(spec[["repeat"]])) {
    found <- NULL
    invisible(gc())
    cpu <- sum(proc.time()[c("user.self", "sys.self")])
    start <- elapsed()
    found <- regression_task(spec, dat)
    times <- c(times, elapsed() - start)
    cpu_times <- c(cpu_times, sum(proc.time()[c("user.self", "sys.self")]) - cpu)
  }
  peak <- proc_status_mb("VmHWM")
  notes <- character(0)
  if (identical(spec$params$task, "lm_permute")) {
    start <- elapsed()
    fast_p <- fast_permutation_loop(spec, dat)
    fast_s <- elapsed() - start
    found$fast_loop_s <- fast_s
    notes <- sprintf(
      "the same loop written for speed (the design's QR once; qr.coef/qr.resid per permutation): %.2f s", fast_s
    )
  }
  list(
    times_s = I(times),
    cpu_times_s = I(cpu_times),
    import_s = import_s,
    load_s = load_s,
    rss_after_load_mb = rss_before,
    peak_rss_mb = peak,
    memory_method = "VmHWM (/proc/self/status) of the Rscript process",
    regression = found,
    notes = I(notes)
  )
}

spec <- fromJSON(commandArgs(trailingOnly = TRUE)[1])
result <- if (identical(spec$kind, "bootstrap")) {
  run_bootstrap(spec)
} else if (identical(spec$kind, "diagnostics")) {
  run_diagnostics(spec)
} else if (identical(spec$kind, "regression")) {
  run_regression(spec)
} else {
  run(spec)
}
cat(MARKER, toJSON(result, auto_unbox = TRUE, digits = NA, null = "null"), "\n", sep = "")
