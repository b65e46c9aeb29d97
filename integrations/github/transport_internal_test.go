package github

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLRUForgetsTheLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	remembered := newLRU(2)
	a, b, c := &answer{etag: "a"}, &answer{etag: "b"}, &answer{etag: "c"}
	remembered.put("/a", a)
	remembered.put("/b", b)
	require.Same(t, a, remembered.get("/a"), "/a is now the most recently used")

	remembered.put("/c", c)
	require.Nil(t, remembered.get("/b"), "forgotten: the least recently used")
	require.Same(t, a, remembered.get("/a"))
	require.Same(t, c, remembered.get("/c"))

	newer := &answer{etag: "a2"}
	remembered.put("/a", newer)
	require.Same(t, newer, remembered.get("/a"), "replaced in place")
	require.Equal(t, 2, remembered.order.Len())
}
