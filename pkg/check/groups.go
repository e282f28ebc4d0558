package check

// Groups collects items under keys and remembers the order in which keys first appeared, so
// that findings built from them come out in snapshot order, never in map order.
type Groups[K comparable, V any] struct {
	order []K
	items map[K][]V
}

// Add files item under key.
func (g *Groups[K, V]) Add(key K, item V) {
	if g.items == nil {
		g.items = map[K][]V{}
	}
	if _, seen := g.items[key]; !seen {
		g.order = append(g.order, key)
	}
	g.items[key] = append(g.items[key], item)
}

// Keys lists the keys in the order they were first added.
func (g *Groups[K, V]) Keys() []K { return g.order }

// Get returns the items filed under key, in the order they were added.
func (g *Groups[K, V]) Get(key K) []V { return g.items[key] }
