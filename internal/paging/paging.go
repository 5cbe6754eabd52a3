// Package paging turns the pages of a list endpoint into one iterator:
// following a cursor or page numbers, yielding each item once, stopping at
// the first error, when the consumer stops, or when the server hands out a
// page it already gave. It also holds the settings of the list options.
package paging

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
)

// ErrStuck is returned by an iterator when the server hands out a cursor or
// a page it already gave: going on would loop forever.
var ErrStuck = errors.New("chatflow: the server repeated a page")

// Page sizes of the list iterators.
const (
	// DefaultPageSize is the number of items asked for per request when no
	// page size is set.
	DefaultPageSize = 20
	// MaxPageSize is the largest page the server accepts.
	MaxPageSize = 100
)

// Config holds what the list options set.
type Config struct {
	PageSize     int
	PageSizeSet  bool // a page size was set
	SortBy       string
	Keyword      string
	VariableName string
}

// NewConfig applies opts (a nil one is skipped) over the defaults.
func NewConfig[O ~func(*Config)](opts []O) Config {
	cfg := Config{PageSize: DefaultPageSize}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return cfg
}

// Cursor yields the items of the pages fetch returns, following a
// cursor, until a page is empty or the server says there are no more.
//
// fetch gets the cursor ("" for the first page); next names the cursor of
// the page after items. When reverse is set, each page is yielded from its
// last item to its first. An item whose id was already yielded on this page
// or the page before (an inclusive cursor, or an item that moved while
// paging) is skipped, so each is yielded once. At most one error is
// yielded, and then the sequence ends; so does breaking out of the loop,
// without fetching another page.
func Cursor[T any](ctx context.Context, fetch func(ctx context.Context, cursor string) ([]T, bool, error), id func(*T) string, next func([]T) string, reverse bool) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		cursor := ""
		var used, prev map[string]bool
		for {
			if err := ctx.Err(); err != nil {
				yield(zero, err)
				return
			}
			items, more, err := fetch(ctx, cursor)
			if err != nil {
				yield(zero, err)
				return
			}
			more = more && len(items) > 0
			cur, ok := yieldPage(items, id, prev, reverse, more, yield)
			if !ok || !more {
				return
			}
			n := next(items)
			if n == "" || used[n] || n == cursor {
				yield(zero, fmt.Errorf("%w (cursor %q after %q)", ErrStuck, n, cursor))
				return
			}
			if used == nil {
				used = map[string]bool{}
			}
			used[n] = true
			cursor, prev = n, cur
		}
	}
}

// Numbered yields the items of the pages fetch returns for page numbers
// 1, 2, ... until a page is empty or the server says there are no more.
// Items are deduplicated as in Cursor. A page equal to the one before, or
// one that holds only items of the page before, is taken as the server
// ignoring the page number: the sequence ends with ErrStuck
// (items without ids can be told apart only by comparing whole pages).
func Numbered[T any](ctx context.Context, first int, fetch func(ctx context.Context, page int) ([]T, bool, error), id func(*T) string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		var prev map[string]bool
		var prevItems []T
		for page := max(first, 1); ; page++ {
			if err := ctx.Err(); err != nil {
				yield(zero, err)
				return
			}
			items, more, err := fetch(ctx, page)
			if err != nil {
				yield(zero, err)
				return
			}
			if len(items) == 0 {
				return
			}
			if prevItems != nil && reflect.DeepEqual(items, prevItems) {
				yield(zero, fmt.Errorf("%w (page %d is page %d again)", ErrStuck, page, page-1))
				return
			}
			cur, ok := yieldPage(items, id, prev, false, more, yield)
			if !ok || !more {
				return
			}
			if prev != nil && len(cur) > 0 && allSeen(cur, prev) {
				yield(zero, fmt.Errorf("%w (page %d)", ErrStuck, page))
				return
			}
			prev, prevItems = cur, items
		}
	}
}

// smallPage is the largest page whose duplicate ids yieldPage finds by
// comparing ids rather than with a map.
const smallPage = 16

// yieldPage yields the items of a page (from the last when reverse is
// set) except those whose id was yielded before, on this page or the
// previous one (prev). It returns false once the consumer has stopped, and
// the ids of this page when keep is set (nil otherwise: a last page needs
// no map).
func yieldPage[T any](items []T, id func(*T) string, prev map[string]bool, reverse, keep bool, yield func(T, error) bool) (map[string]bool, bool) {
	var cur map[string]bool
	if keep || len(items) > smallPage {
		cur = make(map[string]bool, len(items))
	}
	at := func(n int) *T {
		if reverse {
			return &items[len(items)-1-n]
		}
		return &items[n]
	}
	for n := range items {
		it := at(n)
		if k := id(it); k != "" {
			dup := prev[k]
			if cur != nil {
				dup = dup || cur[k]
				cur[k] = true
			} else {
				for m := 0; m < n && !dup; m++ {
					dup = id(at(m)) == k
				}
			}
			if dup {
				continue
			}
		}
		if !yield(*it, nil) {
			return cur, false
		}
	}
	return cur, true
}

// allSeen reports whether every id of cur is in prev.
func allSeen(cur, prev map[string]bool) bool {
	for k := range cur {
		if !prev[k] {
			return false
		}
	}
	return true
}

// LastID returns a function naming the cursor after a page: the id of its
// last item.
func LastID[T any](id func(*T) string) func([]T) string {
	return func(items []T) string { return id(&items[len(items)-1]) }
}

// Err is a sequence that yields only err.
func Err[T any](err error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		yield(zero, err)
	}
}
