package bot

import (
	"sync"

	"github.com/opsbot-dev/opsbot/commands"
)

// workQueue holds acked deliveries until a worker takes them. It is unbounded on purpose: the
// envelope is already acked, so refusing it here would lose a command; Slack's own rate of
// delivery bounds it in practice, and its length is visible through Idle.
type workQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []commands.Inbound
	closed bool
}

func newWorkQueue() *workQueue {
	q := &workQueue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *workQueue) push(in commands.Inbound) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, in)
	q.cond.Signal()
}

// pop blocks until a delivery is queued, or returns false once the queue is closed and empty.
func (q *workQueue) pop() (commands.Inbound, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	if len(q.items) == 0 {
		return nil, false
	}
	in := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	return in, true
}

func (q *workQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// close wakes every worker; they finish what is queued and then stop.
func (q *workQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}
