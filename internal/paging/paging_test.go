package paging

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
)

// TestNumberedSeqPages checks Numbered's reading of pages: pages of
// items without ids that differ are all yielded; a page equal to the one
// before, or holding only items of the page before (in any order), ends
// the sequence with ErrStuck.
func TestNumberedSeqPages(t *testing.T) {
	t.Parallel()
	type item struct{ ID, V string }
	id := func(it *item) string { return it.ID }
	for _, tt := range []struct {
		name  string
		pages [][]item
		want  int // items yielded
		stuck bool
	}{
		{"distinct without ids", [][]item{{{V: "a"}, {V: "b"}}, {{V: "c"}, {V: "d"}}, {{V: "e"}}}, 5, false},
		{"same item value on two pages", [][]item{{{V: "a"}, {V: "b"}}, {{V: "b"}, {V: "c"}}, {{V: "c"}}}, 5, false},
		{"repeated without ids", [][]item{{{V: "a"}, {V: "b"}}, {{V: "a"}, {V: "b"}}, {{V: "z"}}}, 2, true},
		{"repeated with ids", [][]item{{{"1", "a"}, {"2", "b"}}, {{"1", "a"}, {"2", "b"}}, {{"3", "z"}}}, 2, true},
		{"reordered with ids", [][]item{{{"1", "a"}, {"2", "b"}}, {{"2", "b"}, {"1", "a"}}, {{"3", "z"}}}, 2, true},
		{"overlap with ids", [][]item{{{"1", "a"}, {"2", "b"}}, {{"2", "b"}, {"3", "c"}}, {{"4", "d"}}}, 4, false},
	} {
		fetch := func(_ context.Context, page int) ([]item, bool, error) {
			if page > len(tt.pages) {
				return nil, false, nil
			}
			return slices.Clone(tt.pages[page-1]), page < len(tt.pages), nil
		}
		var n int
		var last error
		for _, err := range Numbered(context.Background(), 1, fetch, id) {
			if err != nil {
				last = err
				continue
			}
			n++
		}
		if n != tt.want || errors.Is(last, ErrStuck) != tt.stuck || (last != nil && !tt.stuck) {
			t.Errorf("%s: %d items, err %v; want %d, stuck %v", tt.name, n, last, tt.want, tt.stuck)
		}
	}
}

// TestPageDuplicates: an id repeated on a page, or from the page before, is
// yielded once, on small pages (ids compared) and large ones (a map), in
// both directions, on the last page and on one with more after it.
func TestPageDuplicates(t *testing.T) {
	t.Parallel()
	type item struct{ ID string }
	id := func(it *item) string { return it.ID }
	page := func(ids ...string) []item {
		out := make([]item, len(ids))
		for i, s := range ids {
			out[i] = item{s}
		}
		return out
	}
	large := func(prefix string, n int, extra ...string) []item {
		var ids []string
		for i := range n {
			ids = append(ids, fmt.Sprint(prefix, i))
		}
		return page(append(ids, extra...)...)
	}
	for _, tt := range []struct {
		name    string
		pages   [][]item
		reverse bool
		want    []string
	}{
		{"small last page", [][]item{page("a", "b", "a", "", "", "c", "b")}, false, []string{"a", "b", "", "", "c"}},
		{"small last page reversed", [][]item{page("a", "b", "a", "c")}, true, []string{"c", "a", "b"}},
		{"small pages", [][]item{page("a", "b", "b"), page("b", "c", "c", "d")}, false, []string{"a", "b", "c", "d"}},
		{"large last page", [][]item{large("x", smallPage, "x3", "y", "x0")}, false, nil},
		{"large pages", [][]item{large("x", smallPage+1, "x1"), page("x16", "z", "z")}, false, nil},
	} {
		if tt.want == nil { // every distinct id once, in order of first appearance
			seen := map[string]bool{}
			for _, p := range tt.pages {
				for _, it := range p {
					if !seen[it.ID] {
						seen[it.ID] = true
						tt.want = append(tt.want, it.ID)
					}
				}
			}
		}
		fetch := func(_ context.Context, cursor string) ([]item, bool, error) {
			i := 0
			if cursor != "" {
				i, _ = strconv.Atoi(cursor)
			}
			return tt.pages[i], i+1 < len(tt.pages), nil
		}
		calls := 0
		next := func([]item) string { calls++; return strconv.Itoa(calls) }
		var got []string
		for it, err := range Cursor(context.Background(), fetch, id, next, tt.reverse) {
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			got = append(got, it.ID)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
