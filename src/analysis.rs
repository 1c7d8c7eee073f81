//! Small statistics on host arrays: rank correlation, closed-form ridge regression, cosine
//! similarity and the WEAT effect size. Everything in `f64`, deterministic.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

/// Ranks (1-based), ties given their average rank.
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Pearson correlation; 0 when either side is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len()) as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// Spearman's ρ: Pearson correlation of the ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Ridge regression y ≈ X·w + b, fitted in closed form on centred data:
/// w = (XᵀX + λI)⁻¹ Xᵀy, b = ȳ − x̄·w (the intercept is not penalised).
#[derive(Debug, Clone)]
pub struct Ridge {
    /// Coefficients.
    pub weights: Array1<f64>,
    /// Intercept.
    pub intercept: f64,
}

impl Ridge {
    /// Fits `x` `[n, d]` to `y` `[n]`.
    pub fn fit(x: ArrayView2<f64>, y: ArrayView1<f64>, lambda: f64) -> Ridge {
        Ridge::fit_each(x, &[y], lambda).pop().expect("one target")
    }

    /// Fits `x` `[n, d]` to each of `ys` (`[n]` each), forming XᵀX + λI once for all of them
    /// (a permutation control refits the same embeddings to many orders of the ratings).
    pub fn fit_each(x: ArrayView2<f64>, ys: &[ArrayView1<f64>], lambda: f64) -> Vec<Ridge> {
        let mean_x = x.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(x.ncols()));
        let xc = &x - &mean_x;
        let mut a = xc.t().dot(&xc);
        for i in 0..a.nrows() {
            a[[i, i]] += lambda;
        }
        ys.iter()
            .map(|y| {
                let mean_y = y.mean().unwrap_or(0.0);
                let yc = y - mean_y;
                let weights = solve(a.clone(), xc.t().dot(&yc));
                let intercept = mean_y - mean_x.dot(&weights);
                Ridge { weights, intercept }
            })
            .collect()
    }

    /// Predictions for `x` `[n, d]`.
    pub fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        x.dot(&self.weights) + self.intercept
    }
}

/// Solves A·w = b for a symmetric positive-definite A (Gaussian elimination, partial pivoting).
pub fn solve(mut a: Array2<f64>, mut b: Array1<f64>) -> Array1<f64> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[[i, col]].abs().total_cmp(&a[[j, col]].abs()))
            .unwrap_or(col);
        if pivot != col {
            for k in 0..n {
                a.swap([col, k], [pivot, k]);
            }
            b.swap(col, pivot);
        }
        let p = a[[col, col]];
        if p.abs() < 1e-300 {
            continue;
        }
        for row in col + 1..n {
            let f = a[[row, col]] / p;
            if f != 0.0 {
                for k in col..n {
                    a[[row, k]] -= f * a[[col, k]];
                }
                b[row] -= f * b[col];
            }
        }
    }
    let mut w = Array1::zeros(n);
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[[row, k]] * w[k]).sum();
        w[row] = if a[[row, row]].abs() < 1e-300 {
            0.0
        } else {
            (b[row] - s) / a[[row, row]]
        };
    }
    w
}

/// Cosine similarity; 0 for a zero vector.
pub fn cosine(x: ArrayView1<f32>, y: ArrayView1<f32>) -> f32 {
    let n = (x.dot(&x) * y.dot(&y)).sqrt();
    if n > 0.0 { x.dot(&y) / n } else { 0.0 }
}

/// WEAT effect size (Caliskan et al. 2017): with s(w) = mean_a cos(w, a) − mean_b cos(w, b),
/// d = (mean_{x∈X} s(x) − mean_{y∈Y} s(y)) / std_{w∈X∪Y} s(w), the standard deviation with
/// n − 1 in the denominator. Rows of each matrix are word vectors.
pub fn weat_effect_size(x: &Array2<f32>, y: &Array2<f32>, a: &Array2<f32>, b: &Array2<f32>) -> f64 {
    let s = |w: ArrayView1<f32>| -> f64 {
        let ma = a.outer_iter().map(|v| cosine(w, v) as f64).sum::<f64>() / a.nrows() as f64;
        let mb = b.outer_iter().map(|v| cosine(w, v) as f64).sum::<f64>() / b.nrows() as f64;
        ma - mb
    };
    let sx: Vec<f64> = x.outer_iter().map(s).collect();
    let sy: Vec<f64> = y.outer_iter().map(s).collect();
    let all: Vec<f64> = sx.iter().chain(&sy).copied().collect();
    let n = all.len() as f64;
    let mean = all.iter().sum::<f64>() / n;
    let sd = (all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let diff = sx.iter().sum::<f64>() / sx.len() as f64 - sy.iter().sum::<f64>() / sy.len() as f64;
    if sd > 0.0 { diff / sd } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn spearman_matches_scipy() {
        // Plain Python: Pearson of average ranks [1, 2.5, 2.5, 4, 5] and [2, 1, 4, 3, 5]
        // (the same as scipy.stats.spearmanr) == 0.6668859288553503
        let rho = spearman(&[1., 2., 2., 3., 5.], &[2., 1., 4., 3., 5.]);
        assert!((rho - 0.6668859288553503).abs() < 1e-12, "{rho}");
        assert_eq!(ranks(&[3., 1., 3.]), [2.5, 1.0, 2.5]);
    }

    #[test]
    fn ridge_matches_a_hand_computation() {
        // X = [[1,0],[0,1],[1,1],[2,1]]; y = [1,2,3,4]; λ = 0.5; in plain Python:
        //   Xc = X − mean(X) = [[0,−.75],[−1,.25],[0,.25],[1,.25]]; yc = [−1.5,−.5,.5,1.5]
        //   A = XcᵀXc + .5I = [[2.5,0],[0,1.25]]; Xcᵀyc = [2, 1.5] → w = [0.8, 1.2]
        //   b = ȳ − x̄·w = 2.5 − (1·0.8 + 0.75·1.2) = 0.8
        let x = array![[1., 0.], [0., 1.], [1., 1.], [2., 1.]];
        let y = array![1., 2., 3., 4.];
        let r = Ridge::fit(x.view(), y.view(), 0.5);
        assert!(
            (r.weights[0] - 0.8).abs() < 1e-12 && (r.weights[1] - 1.2).abs() < 1e-12,
            "{:?}",
            r.weights
        );
        assert!((r.intercept - 0.8).abs() < 1e-12, "{}", r.intercept);
    }

    #[test]
    fn weat_is_positive_when_x_leans_to_a() {
        let a = array![[1.0f32, 0.0]];
        let b = array![[0.0f32, 1.0]];
        let x = array![[1.0f32, 0.1], [0.9, 0.2]];
        let y = array![[0.1f32, 1.0], [0.2, 0.9]];
        let d = weat_effect_size(&x, &y, &a, &b);
        assert!(d > 1.0, "{d}");
        assert!((weat_effect_size(&y, &x, &a, &b) + d).abs() < 1e-9);
    }
}
