package worker

import (
	"context"
	"maps"
	"sync"
)

// memStore keeps the configurations in memory, for as long as the process runs: the store of
// a daemon whose connectors all come from its config file and which nothing else can change
// (cdcd with its REST API off). The file is then the one durable copy, read again at every
// start; a file-backed store would be a second copy that could disagree with it, and a
// config topic a Kafka topic holding nothing the file does not.
type memStore struct {
	mu    sync.Mutex
	conns map[string]storedConnector
}

var _ configStore = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{conns: make(map[string]storedConnector)} }

// load returns what was put since the store was made: nothing at a process's start.
func (s *memStore) load(context.Context) (map[string]storedConnector, map[string]error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.conns), map[string]error{}, nil
}

func (s *memStore) put(_ context.Context, name string, sc *storedConnector) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc == nil {
		delete(s.conns, name)
		return nil
	}
	s.conns[name] = *sc
	return nil
}

func (s *memStore) close() {}
