//! Chi-square goodness of fit for the sampling tests: the p-value of Pearson's statistic by the
//! Wilson–Hilferty approximation ((X/k)^(1/3) is close to normal with mean 1 − 2/(9k) and
//! variance 2/(9k)), the normal tail by Numerical Recipes' `erfc` (relative error < 1.2e-7).

/// Complementary error function.
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// P(chi-square with `k` degrees of freedom > `x`).
pub fn chi2_sf(x: f64, k: usize) -> f64 {
    let k = k as f64;
    let v = 2.0 / (9.0 * k);
    let z = ((x / k).cbrt() - (1.0 - v)) / v.sqrt();
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}
