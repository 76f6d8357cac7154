package ingest

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// subjectLimiters holds one token bucket per subject, at most max of them:
// beyond that the least recently seen subject's bucket is dropped. A dropped
// subject starts again with a full burst, which the overall limit bounds.
type subjectLimiters struct {
	limit rate.Limit
	burst int
	max   int

	mu  sync.Mutex
	lru *list.List // of *subjectLimiter, most recent first
	m   map[string]*list.Element
}

type subjectLimiter struct {
	subject string
	lim     *rate.Limiter
}

func newSubjectLimiters(r float64, burst, max int) *subjectLimiters {
	return &subjectLimiters{limit: rate.Limit(r), burst: burst, max: max, lru: list.New(), m: make(map[string]*list.Element)}
}

func (s *subjectLimiters) get(subject string) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[subject]; ok {
		s.lru.MoveToFront(e)
		return e.Value.(*subjectLimiter).lim
	}
	if s.lru.Len() >= s.max {
		old := s.lru.Back()
		s.lru.Remove(old)
		delete(s.m, old.Value.(*subjectLimiter).subject)
	}
	sl := &subjectLimiter{subject: subject, lim: rate.NewLimiter(s.limit, s.burst)}
	s.m[subject] = s.lru.PushFront(sl)
	return sl.lim
}

func (s *subjectLimiters) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

// take takes one token from lim at now, or reports how long to wait.
func take(lim *rate.Limiter, now time.Time) (*rate.Reservation, time.Duration) {
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return nil, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, d
	}
	return r, 0
}
