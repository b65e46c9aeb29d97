package clock_test

import (
	"testing"
	"time"

	"github.com/opsbot-dev/opsbot/clock"
)

func TestOffsetAdvanceMovesNowAndWakesWaiters(t *testing.T) {
	t.Parallel()
	c := clock.NewOffset()
	before := c.Now()
	woken := c.Advanced()

	c.Advance(25 * time.Hour)

	if got := c.Now().Sub(before); got < 25*time.Hour || got > 25*time.Hour+time.Minute {
		t.Fatalf("after Advance(25h) the clock moved %v, want about 25h", got)
	}
	select {
	case <-woken:
	default:
		t.Fatal("Advance did not wake the waiter registered before it")
	}
	select {
	case <-c.Advanced():
		t.Fatal("a waiter registered after Advance was woken without a new Advance")
	default:
	}
}
