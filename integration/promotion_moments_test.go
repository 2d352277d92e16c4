//go:build !chaos

package integration

// defaultPromotionMoments keeps make test's promotion test to one moment; the chaos build runs
// every one.
const defaultPromotionMoments = "under_load"
