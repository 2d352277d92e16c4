package avro

import (
	"context"
	"errors"
	"sync"

	"github.com/cdcd-dev/cdcd/decoder"
)

// RegistryConcurrency is how many tables PrepareTables registers at once: each registration
// is a few round trips to the registry (a lookup, the subject's versions and compatibility
// level, the registration), so a connector meeting 1,000 new tables waited 1,000 times that,
// one after the other (11 s on the scale bench). Eight keeps a registry, embedded or
// Confluent's, far from overload while hiding most of the round trips.
const RegistryConcurrency = 8

// PrepareTables builds, ahead of their first records, the codecs of the tables' records in
// the envelope shape and their default topics (what Encode and a record no transform changed
// use), registering their schemas RegistryConcurrency tables at a time. It is a hint that
// never changes an outcome: a table whose codec cannot be built is left for its first record
// to meet the same error in its place; a table with a codec already is skipped; of several
// versions of one table (the same topic) only the first is prepared, so that the versions of
// a subject are registered in their order. It returns the topics of the tables whose codecs
// are ready (prepared now or before), and the errors met, joined, for the log. Encodings wait
// meanwhile; it blocks on the registry.
func (e *Encoder) PrepareTables(ctx context.Context, tables []*decoder.Table) ([]string, error) {
	e.regMu.Lock()
	defer e.regMu.Unlock()
	type job struct {
		k     codecKey
		tc    *tableCodec
		parts codecParts
		err   error
	}
	var jobs []*job
	planned := map[string]bool{}
	var topics []string
	var errs []error
	for _, t := range tables {
		k := codecKey{table: t}
		if t == nil {
			continue
		}
		e.mu.RLock()
		done := e.tables[k]
		e.mu.RUnlock()
		if done != nil {
			topics = append(topics, done.topic)
			continue
		}
		tc, parts, err := e.planCodec(k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// A later version of a table planned already waits for its first record.
		if planned[tc.topic] {
			continue
		}
		planned[tc.topic] = true
		jobs = append(jobs, &job{k: k, tc: tc, parts: parts})
	}
	if len(jobs) == 0 {
		return topics, errors.Join(errs...)
	}
	work := make(chan *job)
	var wg sync.WaitGroup
	for range min(RegistryConcurrency, len(jobs)) {
		wg.Go(func() {
			for j := range work {
				j.err = e.registerCodec(ctx, j.k.table, j.tc, j.parts)
			}
		})
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	e.mu.Lock()
	for _, j := range jobs {
		if j.err != nil {
			errs = append(errs, j.err)
			continue
		}
		e.tables[j.k] = j.tc
		topics = append(topics, j.tc.topic)
	}
	e.mu.Unlock()
	return topics, errors.Join(errs...)
}
