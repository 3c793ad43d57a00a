//! One-dimensional minimisation on an interval: Brent's method (golden
//! section with parabolic steps), as R's `optimize()` (Brent 1973,
//! "Algorithms for Minimization without Derivatives", ch. 5, `localmin`).

/// The minimum of a one-dimensional function on an interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Minimum1d {
    pub x: f64,
    pub fx: f64,
    /// Function evaluations.
    pub evaluations: usize,
}

/// Minimise `f` on `[a, b]` to within about `tol` in x (R's
/// `optimize(f, c(a, b), tol = tol)`): the points tried are never closer
/// than `tol` to each other or to the ends.
pub fn brent_minimize(mut f: impl FnMut(f64) -> f64, a: f64, b: f64, tol: f64) -> Minimum1d {
    // (3 - sqrt(5)) / 2, the golden section's ratio.
    let golden = 0.5 * (3.0 - 5f64.sqrt());
    let eps = f64::EPSILON.sqrt();
    let (mut a, mut b) = (a.min(b), a.max(b));
    let mut x = a + golden * (b - a);
    let (mut v, mut w) = (x, x);
    let (mut d, mut e) = (0.0f64, 0.0f64);
    let mut fx = f(x);
    let (mut fv, mut fw) = (fx, fx);
    let mut evaluations = 1;
    let tol3 = tol / 3.0;
    loop {
        let xm = 0.5 * (a + b);
        let tol1 = eps * x.abs() + tol3;
        let t2 = 2.0 * tol1;
        if (x - xm).abs() <= t2 - 0.5 * (b - a) {
            break;
        }
        let (mut p, mut q, mut r) = (0.0, 0.0, 0.0);
        if e.abs() > tol1 {
            // A parabola through (v, fv), (w, fw), (x, fx).
            r = (x - w) * (fx - fv);
            q = (x - v) * (fx - fw);
            p = (x - v) * q - (x - w) * r;
            q = 2.0 * (q - r);
            if q > 0.0 {
                p = -p;
            } else {
                q = -q;
            }
            r = e;
            e = d;
        }
        if p.abs() >= (0.5 * q * r).abs() || p <= q * (a - x) || p >= q * (b - x) {
            // Golden-section step into the larger part.
            e = if x < xm { b - x } else { a - x };
            d = golden * e;
        } else {
            // Parabolic step, kept away from the ends.
            d = p / q;
            let u = x + d;
            if u - a < t2 || b - u < t2 {
                d = if x < xm { tol1 } else { -tol1 };
            }
        }
        let u = if d.abs() >= tol1 {
            x + d
        } else if d > 0.0 {
            x + tol1
        } else {
            x - tol1
        };
        let fu = f(u);
        evaluations += 1;
        if fu <= fx {
            if u < x {
                b = x;
            } else {
                a = x;
            }
            (v, fv) = (w, fw);
            (w, fw) = (x, fx);
            (x, fx) = (u, fu);
        } else {
            if u < x {
                a = u;
            } else {
                b = u;
            }
            if fu <= fw || w == x {
                (v, fv) = (w, fw);
                (w, fw) = (u, fu);
            } else if fu <= fv || v == x || v == w {
                (v, fv) = (u, fu);
            }
        }
    }
    Minimum1d { x, fx, evaluations }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_interior_and_end_minima() {
        // R: optimize(function(x) (x - 1/3)^2, c(0, 1), tol = 1e-8)$minimum
        let m = brent_minimize(|x| (x - 1.0 / 3.0).powi(2), 0.0, 1.0, 1e-8);
        assert!((m.x - 1.0 / 3.0).abs() < 1e-7, "{m:?}");
        assert!(m.evaluations < 15, "{m:?}");
        // A non-smooth function: golden-section steps take over.
        let m = brent_minimize(|x| (x - 0.7).abs(), -2.0, 3.0, 1e-6);
        assert!((m.x - 0.7).abs() < 1e-5, "{m:?}");
        // Minimum at the right end: the search stops within tol of it.
        let m = brent_minimize(|x| -x, 0.0, 2.0, 1e-6);
        assert!(m.x > 2.0 - 1e-5 && m.x < 2.0, "{m:?}");
        // Reversed ends are accepted.
        let m = brent_minimize(|x| (x + 1.0).powi(2) + x.cos(), 1.0, -3.0, 1e-9);
        let g = |x: f64| 2.0 * (x + 1.0) - x.sin();
        assert!(g(m.x).abs() < 1e-7, "{m:?}");
    }
}
