package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// scrapeInterval is how often the scraped throughput reads cdcd's /metrics: fifteen times
// Prometheus's default scrape_interval (15 s), so that a cost too small to see at once a second
// is invisible at the usual rate.
const scrapeInterval = time.Second

// scrapeTimeout bounds one scrape, as Prometheus's default scrape_timeout (10 s) does.
const scrapeTimeout = 10 * time.Second

// scraper reads a /metrics every interval while a measurement runs, as Prometheus does, and
// remembers the first scrape that failed.
type scraper struct {
	url    string
	client *http.Client
	// scrapes counts the scrapes that succeeded; refused those refused before the first success.
	scrapes, refused atomic.Int64

	stopOnce sync.Once
	stopc    chan struct{}
	done     chan struct{}
	// err is the first failure; read after done is closed.
	err error
}

// startScraper starts scraping url every interval, the first scrape one interval from now.
func startScraper(url string, interval time.Duration) *scraper {
	s := &scraper{url: url, client: &http.Client{Timeout: scrapeTimeout}, stopc: make(chan struct{}), done: make(chan struct{})}
	go s.run(interval)
	return s
}

func (s *scraper) run(interval time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.stopc:
			return
		case <-tick.C:
		}
		if err := s.scrape(); err != nil {
			// cdcd may not listen yet at the first ticks (its start-up on a loaded machine);
			// once it has answered, any failure is one.
			if s.scrapes.Load() == 0 && errors.Is(err, syscall.ECONNREFUSED) {
				s.refused.Add(1)
				continue
			}
			s.err = err
			return
		}
	}
}

// scrape reads the whole exposition once and checks that it holds cdcd's own metrics.
func (s *scraper) scrape() error {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return fmt.Errorf("scraping %s: %w", s.url, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("scraping %s: %w", s.url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("scraping %s: reading the answer: %w", s.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("scraping %s: %s: %.200s", s.url, resp.Status, body)
	}
	if !strings.Contains(string(body), "\ncdcd_") {
		return fmt.Errorf("scraping %s: no cdcd_ metric in the answer (%d bytes)", s.url, len(body))
	}
	s.scrapes.Add(1)
	return nil
}

// halt stops the scraping, waiting for a scrape under way; it may be called more than once.
func (s *scraper) halt() {
	s.stopOnce.Do(func() { close(s.stopc) })
	<-s.done
}

// finish stops the scraping, scrapes a last time (so that a run shorter than the interval is
// scraped too, and a cdcd that stopped answering is seen) and returns the scrapes that
// succeeded, or the first failure.
func (s *scraper) finish() (int, error) {
	s.halt()
	if s.err != nil {
		return int(s.scrapes.Load()), s.err
	}
	if err := s.scrape(); err != nil {
		return int(s.scrapes.Load()), err
	}
	return int(s.scrapes.Load()), nil
}

// measureScrapedThroughput is measureThroughput on the workload w read through tg (a slot of its
// own, taken before the workload was written), with a health listener whose /metrics is
// scraped every scrapeInterval meanwhile. A scrape that fails fails the measurement.
func (b *bench) measureScrapedThroughput(ctx context.Context, d database, w *workload, tg target) (scrapedResult, error) {
	b.progress("throughput with /metrics scraped every %s", scrapeInterval)
	b.scraped = true
	defer func() { b.scraped = false }()
	own := *w
	own.target = tg
	r, scrapes, err := b.measureThroughputScrapes(ctx, d, &own, nil)
	if err != nil {
		return scrapedResult{}, fmt.Errorf("scraped: %w", err)
	}
	b.progress("throughput scraped %d times", scrapes)
	return scrapedResult{throughputResult: r, scrapes: scrapes}, nil
}

// scrapedResult is the scraped throughput: the throughput and the scrapes that succeeded.
type scrapedResult struct {
	throughputResult
	scrapes int
}

// addScraped adds the scraped throughput's rows to t, each beside the figure of the run without
// scraping it compares with, and their ratio when that run was measured too.
func addScraped(t *table, prefix string, r scrapedResult) {
	tput, scraped := prefix+"cdcd throughput", prefix+"cdcd throughput (scraped)"
	t.addAfter(tput, scraped, r.rate, "events/s",
		fmt.Sprintf("as cdcd throughput, the same workload, with /metrics of health.listen scraped every %s (%d scrapes)", scrapeInterval, r.scrapes))
	if base, ok := t.value(tput); ok && base > 0 {
		t.addAfter(scraped, prefix+"cdcd scraped / unscraped", r.rate/base, "ratio",
			"cdcd throughput (scraped) over cdcd throughput: 1 within the runs' noise is no visible cost")
	}
	t.addAfter(prefix+"cdcd CPU per event (throughput)", prefix+"cdcd CPU per event (scraped)", r.perEvent(r.records), "µs/event",
		"as cdcd CPU per event (throughput), the scrapes' cost included")
}
