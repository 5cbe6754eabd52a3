package chatflow

import "github.com/difykit/chatflow/internal/paging"

// Page sizes of the list iterators.
const (
	// DefaultPageSize is the number of items asked for per request when
	// WithPageSize is not used.
	DefaultPageSize = paging.DefaultPageSize
	// MaxPageSize is the largest page the server accepts.
	MaxPageSize = paging.MaxPageSize
)

// ListOption changes what a list iterator asks the server for.
type ListOption func(*paging.Config)

// WithPageSize sets how many items each request asks for, from 1 to
// MaxPageSize (values outside are clamped; default DefaultPageSize). It
// changes the number of requests, never the items yielded.
func WithPageSize(n int) ListOption {
	return func(c *paging.Config) { c.PageSize, c.PageSizeSet = min(max(n, 1), MaxPageSize), true }
}

// WithSortBy sets the order of Conversations (default SortByUpdatedAtDesc).
func WithSortBy(s SortBy) ListOption {
	return func(c *paging.Config) { c.SortBy = string(s) }
}

// WithKeyword keeps only the items matching keyword (Annotations and
// WorkflowLogs).
func WithKeyword(keyword string) ListOption {
	return func(c *paging.Config) { c.Keyword = keyword }
}

// WithVariableName keeps only the variable named exactly name
// (ConversationVariables). The server's own filter matches any name that
// contains name, in any case ("name" also finds "user_name" and "Name"),
// and older servers ignore it: the iterator sends the filter and then keeps
// only the exact match.
func WithVariableName(name string) ListOption {
	return func(c *paging.Config) { c.VariableName = name }
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
