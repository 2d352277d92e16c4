//go:build chaos

package integration

// defaultPromotionMoments under the chaos build tag: every moment of promotionMoments.
const defaultPromotionMoments = "all"
