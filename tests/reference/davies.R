# Reference values for emergence.stats.davies.davies_test from R segmented::davies.test.
# Run from the repository root:  Rscript tests/reference/davies.R
# Writes tests/reference/davies_cases.csv (inputs) and tests/reference/davies_reference.csv
# (one row per case: the R call, 'best at', p-value, and the process values joined by ';').
suppressPackageStartupMessages(library(segmented))
set.seed(20240501)
cases <- list()
add <- function(id, x, y, w = NULL, ntr = NULL, form = "lm", type = "lrt",
                alternative = "two.sided", k = 10, family = "gaussian") {
  cases[[length(cases) + 1]] <<- list(id = id, x = x, y = y, w = w, ntr = ntr, form = form,
                                      type = type, alternative = alternative, k = k,
                                      family = family)
}
hinge <- function(x, psi, d) pmax(x - psi, 0) * d
# gaussian lm cases (Davies 2002 form)
for (i in 1:8) {
  n <- c(6, 8, 10, 12, 15, 20, 9, 11)[i]
  x <- sort(runif(n, 7, 12))
  d <- c(0, 0.8, 0, 1.5, 0.3, 0, 2, -1)[i]
  y <- 0.1 + 0.2 * x + hinge(x, median(x), d) + rnorm(n, sd = 0.3)
  add(sprintf("lm%02d", i), x, y)
}
for (alt in c("greater", "less")) for (j in 1:2) {
  n <- 10 + 2 * j
  x <- seq(7, 11, length.out = n)
  y <- 0.5 * x + hinge(x, 9, ifelse(alt == "greater", 1, -1)) + rnorm(n, sd = 0.5)
  add(sprintf("lm_%s%d", alt, j), x, y, alternative = alt)
}
for (j in 1:2) {
  n <- 12
  x <- seq(6, 12, length.out = n)
  y <- 1 + 0.1 * x + hinge(x, 9.5, 0.6 * j) + rnorm(n, sd = 0.4)
  add(sprintf("lm_w%d", j), x, y, w = runif(n, 0.5, 2))
}
add("lm_k5", seq(1, 10), c(1.2, 1.9, 3.1, 4.2, 4.8, 6.5, 9.1, 11.0, 13.2, 15.1), k = 5)
add("lm_k20", seq(1, 10), c(1.2, 1.9, 3.1, 4.2, 4.8, 6.5, 9.1, 11.0, 13.2, 15.1), k = 20)
# gaussian glm (Davies 1987 form)
for (typ in c("lrt", "wald")) for (j in 1:2) {
  n <- 10 + 4 * j
  x <- seq(7, 11, length.out = n)
  y <- 0.3 * x + hinge(x, 9, 0.7 * (j - 1)) + rnorm(n, sd = 0.3)
  add(sprintf("glm_gauss_%s%d", typ, j), x, y, form = "glm", type = typ)
}
# binomial glm (Davies 1987 form), counts out of 200 items
for (typ in c("lrt", "wald")) for (j in 1:3) {
  n <- c(8, 10, 12)[j]
  x <- seq(7, 11, length.out = n)
  eta <- -1.5 + 0.3 * (x - 7) + hinge(x, 9.5, c(0, 1.2, 2)[j])
  ntr <- rep(200, n)
  y <- rbinom(n, ntr, plogis(eta))
  add(sprintf("glm_binom_%s%d", typ, j), x, y, ntr = ntr, form = "glm", type = typ,
      family = "binomial")
}

inputs <- do.call(rbind, lapply(cases, function(cs) data.frame(
  case = cs$id, x = cs$x, y = cs$y,
  w = if (is.null(cs$w)) 1 else cs$w,
  n_trials = if (is.null(cs$ntr)) NA else cs$ntr)))
res <- do.call(rbind, lapply(cases, function(cs) {
  dat <- data.frame(x = cs$x, y = cs$y, w = if (is.null(cs$w)) 1 else cs$w)
  if (cs$family == "binomial") {
    dat$prop <- cs$y / cs$ntr
    dat$ntr <- cs$ntr
    fit <- glm(prop ~ x, family = binomial, weights = ntr, data = dat,
               control = glm.control(epsilon = 1e-14, maxit = 100))
    call <- sprintf("davies.test(glm(y/n ~ x, binomial, weights=n), ~x, k=%d, type='%s', alternative='%s')",
                    cs$k, cs$type, cs$alternative)
  } else if (cs$form == "glm") {
    fit <- glm(y ~ x, family = gaussian, data = dat)
    call <- sprintf("davies.test(glm(y ~ x, gaussian), ~x, k=%d, type='%s', alternative='%s')",
                    cs$k, cs$type, cs$alternative)
  } else {
    fit <- if (is.null(cs$w)) lm(y ~ x, data = dat) else lm(y ~ x, weights = w, data = dat)
    call <- sprintf("davies.test(lm(y ~ x%s), ~x, k=%d, alternative='%s')",
                    if (is.null(cs$w)) "" else ", weights=w", cs$k, cs$alternative)
  }
  dt <- davies.test(fit, ~x, k = cs$k, alternative = cs$alternative, type = cs$type)
  data.frame(case = cs$id, form = cs$form, type = cs$type, alternative = cs$alternative,
             k = cs$k, family = cs$family, best = unname(dt$statistic),
             p_value = dt$p.value, n_points = unname(dt$parameter),
             process = paste(sprintf("%.15g", dt$process[, 2]), collapse = ";"),
             r_call = call, segmented_version = as.character(packageVersion("segmented")))
}))
write.csv(inputs, "tests/reference/davies_cases.csv", row.names = FALSE)
res$p_value <- sprintf("%.15g", res$p_value)
res$best <- sprintf("%.15g", res$best)
write.csv(res, "tests/reference/davies_reference.csv", row.names = FALSE)
cat(nrow(res), "cases written\n")
