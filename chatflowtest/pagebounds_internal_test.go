package chatflowtest

import (
	"math"
	"testing"
)

func TestPageBounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ page, limit, n, from, to int }{
		{1, 20, 5, 0, 5},
		{0, 20, 5, 0, 5},
		{-3, 20, 5, 0, 5},
		{2, 2, 5, 2, 4},
		{3, 2, 5, 4, 5},
		{4, 2, 5, 5, 5},
		{4611686018427387904, 100, 5, 5, 5},
		{math.MaxInt, 100, 5, 5, 5},
		{math.MaxInt, math.MaxInt, 5, 5, 5},
		{2, math.MaxInt, 5, 5, 5},
		{1, 0, 5, 0, 0},
	} {
		from, to := pageBounds(tc.page, tc.limit, tc.n)
		if from != tc.from || to != tc.to {
			t.Errorf("pageBounds(%d, %d, %d) = %d, %d; want %d, %d", tc.page, tc.limit, tc.n, from, to, tc.from, tc.to)
		}
	}
}
