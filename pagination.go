package chatflow

import (
	"context"
	"fmt"
	"iter"
	"reflect"
)

// Page sizes of the list iterators.
const (
	// DefaultPageSize is the number of items asked for per request when
	// WithPageSize is not used.
	DefaultPageSize = 20
	// MaxPageSize is the largest page the server accepts.
	MaxPageSize = 100
)

// ListOption changes what a list iterator asks the server for.
type ListOption func(*listConfig)

type listConfig struct {
	pageSize     int
	pageSizeSet  bool // WithPageSize was used
	sortBy       SortBy
	keyword      string
	variableName string
}

// WithPageSize sets how many items each request asks for, from 1 to
// MaxPageSize (values outside are clamped; default DefaultPageSize). It
// changes the number of requests, never the items yielded.
func WithPageSize(n int) ListOption {
	return func(c *listConfig) { c.pageSize, c.pageSizeSet = min(max(n, 1), MaxPageSize), true }
}

// WithSortBy sets the order of Conversations (default SortByUpdatedAtDesc).
func WithSortBy(s SortBy) ListOption {
	return func(c *listConfig) { c.sortBy = s }
}

// WithKeyword keeps only the items matching keyword (Annotations and
// WorkflowLogs).
func WithKeyword(keyword string) ListOption {
	return func(c *listConfig) { c.keyword = keyword }
}

// WithVariableName keeps only the variable named exactly name
// (ConversationVariables). The server's own filter matches any name that
// contains name, in any case ("name" also finds "user_name" and "Name"),
// and older servers ignore it: the iterator sends the filter and then keeps
// only the exact match.
func WithVariableName(name string) ListOption {
	return func(c *listConfig) { c.variableName = name }
}

func newListConfig(opts []ListOption) listConfig {
	cfg := listConfig{pageSize: DefaultPageSize}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return cfg
}

// ptr returns a pointer to v, or nil for the zero value (so that the
// generated builders leave the parameter out of the URL).
func ptr[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// cursorSeq yields the items of the pages fetch returns, following a
// cursor, until a page is empty or the server says there are no more.
//
// fetch gets the cursor ("" for the first page); next names the cursor of
// the page after items. When reverse is set, each page is yielded from its
// last item to its first. An item whose id was already yielded on this page
// or the page before (an inclusive cursor, or an item that moved while
// paging) is skipped, so each is yielded once. At most one error is
// yielded, and then the sequence ends; so does breaking out of the loop,
// without fetching another page.
func cursorSeq[T any](ctx context.Context, fetch func(ctx context.Context, cursor string) ([]T, bool, error), id func(*T) string, next func([]T) string, reverse bool) iter.Seq2[T, error] {
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
				yield(zero, fmt.Errorf("%w (cursor %q after %q)", ErrPaginationStuck, n, cursor))
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

// numberedSeq yields the items of the pages fetch returns for page numbers
// 1, 2, ... until a page is empty or the server says there are no more.
// Items are deduplicated as in cursorSeq. A page equal to the one before, or
// one that holds only items of the page before, is taken as the server
// ignoring the page number: the sequence ends with ErrPaginationStuck
// (items without ids can be told apart only by comparing whole pages).
func numberedSeq[T any](ctx context.Context, first int, fetch func(ctx context.Context, page int) ([]T, bool, error), id func(*T) string) iter.Seq2[T, error] {
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
				yield(zero, fmt.Errorf("%w (page %d is page %d again)", ErrPaginationStuck, page, page-1))
				return
			}
			cur, ok := yieldPage(items, id, prev, false, more, yield)
			if !ok || !more {
				return
			}
			if prev != nil && len(cur) > 0 && allSeen(cur, prev) {
				yield(zero, fmt.Errorf("%w (page %d)", ErrPaginationStuck, page))
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

func allSeen(cur, prev map[string]bool) bool {
	for k := range cur {
		if !prev[k] {
			return false
		}
	}
	return true
}

// lastID returns a function naming the cursor after a page: the id of its
// last item.
func lastID[T any](id func(*T) string) func([]T) string {
	return func(items []T) string { return id(&items[len(items)-1]) }
}

// errSeq is a sequence that yields only err.
func errSeq[T any](err error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		yield(zero, err)
	}
}
