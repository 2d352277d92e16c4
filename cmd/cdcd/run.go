package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/format/avro"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/schemaregistry"
	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/cdcd-dev/cdcd/transform"
	"github.com/cdcd-dev/cdcd/worker"
)

func newRunCommand() *cobra.Command {
	var configPath, cpuProfile string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the configured connectors until SIGTERM or SIGINT",
		Long: `Run reads the config file, serves the embedded schema registry when no registry URL is
configured, and runs every connector: the changes of PostgreSQL (type postgres) and of MySQL or
MariaDB (type mysql) into Kafka, exactly once. On SIGTERM or SIGINT the open Kafka transaction
is aborted (its changes are re-read on the next start), the source is acknowledged up to the
last commit, and cdcd exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			if cpuProfile != "" {
				stopProfile, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stopProfile()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return runDaemon(ctx, cfg, newLogger(cfg.Log, os.Stderr))
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "the YAML config file (see docs/configuration.md)")
	_ = cmd.MarkFlagRequired("config")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile to this file until cdcd stops (for performance work)")
	return cmd
}

// startCPUProfile profiles the process into path until the returned function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// runDaemon runs the connectors through the worker, the file's and (with the API on) those
// created over the API alike. With the API on, it runs until ctx ends (then it returns nil);
// with it off, until ctx ends or every connector has failed for good (then it returns what
// failed them). A connector that fails does not stop the others.
func runDaemon(ctx context.Context, cfg *Config, log zerolog.Logger) error {
	kafka := kafkaClientOptions(cfg)
	warnInsecureKafka(cfg, log)
	if cfg.API.Listen == apiOff {
		return runWithoutAPI(ctx, cfg, kafka, log)
	}
	return runManaged(ctx, cfg, kafka, log)
}

// openRegistry returns the schema registry's client: of the configured URL, or of the
// embedded registry it serves (stopped by the function it returns), whose store is reached
// with the Kafka client options kafka.
func openRegistry(ctx context.Context, cfg *Config, kafka []kgo.Opt, log zerolog.Logger, reqs *registryMetrics) (avro.Registry, func(), error) {
	registryURL, stop := cfg.Registry.URL, func() {}
	if registryURL == "" {
		url, stopRegistry, err := serveEmbeddedRegistry(ctx, cfg, kafka, log)
		if err != nil {
			return nil, nil, err
		}
		registryURL, stop = url, stopRegistry
	}
	client, err := registryHTTPClient(cfg.Registry, registryURL)
	if err != nil {
		stop()
		return nil, nil, err
	}
	reqs.instrument(client)
	return avro.NewSRClient(registryURL, client), stop, nil
}

// Bounds of the wait between two tries to reach Kafka at the daemon's start, and how often
// the daemon says it is still waiting.
const (
	minKafkaRetry   = time.Second
	maxKafkaRetry   = 30 * time.Second
	kafkaWaitNotice = time.Minute
	// kafkaWaitGrace is how long a start may take before the first "waiting for Kafka"
	// warning: a reachable Kafka answers well before.
	kafkaWaitGrace = 5 * time.Second
)

// runManaged runs the daemon: the REST API that manages the connectors, listening at once, and
// the worker, which keeps the connectors' configurations in the config topic (the file's
// connectors are applied to it at start) and runs each. Until Kafka answers and the
// configurations are restored, the API answers 503 "not ready: waiting for Kafka at ...". It
// returns when ctx ends; a connector's failure is its status.
func runManaged(ctx context.Context, cfg *Config, kafka []kgo.Opt, log zerolog.Logger) error {
	workerID := cfg.API.Advertised
	if workerID == "" {
		workerID = cfg.API.Listen
	}
	secretsKey, err := daemonSecretsKey(cfg, log)
	if err != nil {
		return err
	}
	gate := api.NewGate(waitingForKafka(cfg))
	metrics := newMetrics()
	opts := []api.Option{
		api.WithAddr(cfg.API.Listen), api.WithToken(cfg.API.Token), api.WithWorkerID(workerID),
		api.WithGatherer(metrics), api.WithVersion(version), api.WithLogger(log),
		api.WithPlugins(apiPlugins(daemonKinds())...),
	}
	if cfg.API.TLSCert != "" {
		opts = append(opts, api.WithTLS(cfg.API.TLSCert, cfg.API.TLSKey))
	}
	var rejoin rejoiner
	if cfg.Group.ID != "" {
		opts = append(opts, api.WithCluster(rejoin.cluster))
	}
	srv, err := api.New(gate, opts...)
	if err != nil {
		return fmt.Errorf("%w: api: %w", ErrConfig, err)
	}
	ln, err := srv.Listen(ctx)
	if err != nil {
		return fmt.Errorf("REST API: %w", err)
	}
	serveCtx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	served := make(chan error, 1)
	go func() {
		served <- srv.ServeListener(serveCtx, ln)
		// A server that stopped by itself stops the start too.
		stopServing()
	}()
	log.Info().Str("listen", cfg.API.Listen).Str("config_topic", cfg.Kafka.ConfigTopic).Msg("REST API serving")
	stopHealth, err := serveHealth(ctx, cfg, gate, metrics, log)
	if err != nil {
		stopServing()
		<-served
		return err
	}
	defer stopHealth()

	workerOpts := []worker.Option{worker.ConfigTopic(cfg.Kafka.ConfigTopic), worker.WorkerID(workerID), worker.SealSecrets(secretsKey)}
	if cfg.Group.ID != "" {
		workerOpts = append(workerOpts, worker.GroupMode(), worker.OnChange(rejoin.rejoin),
			worker.StatusTopic(cfg.Kafka.StatusTopic))
	}
	mgr, stopRegistry, err := startWorker(serveCtx, cfg, kafka, gate, log, newRegistryMetrics(metrics), workerOpts...)
	if err != nil {
		stopServing()
		serveErr := <-served
		if ctx.Err() != nil {
			log.Info().Msg("stopped on signal")
			return nil
		}
		if serveErr != nil {
			return fmt.Errorf("REST API: %w", serveErr)
		}
		return err
	}
	defer stopRegistry()
	defer mgr.Close()
	if cfg.Group.ID != "" {
		g, err := startGroup(cfg, kafka, mgr, workerID, &rejoin, log)
		if err != nil {
			return err
		}
		// Deferred after mgr.Close, so run before it: the member stops its connectors and
		// leaves the group while the manager is still open.
		defer g.stop()
	}
	metrics.MustRegister(mgr.Collector())
	gate.Open(mgr)
	log.Info().Msg("ready: connectors restored")
	go notifyWhenReady(ctx, mgr, log)

	if err := <-served; err != nil && ctx.Err() == nil {
		return fmt.Errorf("REST API: %w", err)
	}
	log.Info().Msg("stopped on signal")
	return nil
}

// waitingForKafka is the daemon's reason not to be ready while Kafka does not answer.
func waitingForKafka(cfg *Config) string {
	return "waiting for Kafka at " + strings.Join(cfg.Kafka.Brokers, ",")
}

// runWithoutAPI runs the file's connectors (api.listen off) through the worker, as runManaged
// does, their configurations kept in memory rather than in the config topic: with the API off
// nothing can change them, and the file is read again at every start. It runs until ctx ends
// (then it returns nil) or until every connector has failed for good (then it returns what
// failed them): with the API off, nothing could restart a FAILED connector.
func runWithoutAPI(ctx context.Context, cfg *Config, kafka []kgo.Opt, log zerolog.Logger) error {
	failed := newFailures(cfg.Connectors, log)
	// The health listener, if any, answers not ready until the worker runs.
	health := api.NewGate(waitingForKafka(cfg))
	// The health listener is the only place the metrics are served with the API off.
	metrics := newMetrics()
	stopHealth, err := serveHealth(ctx, cfg, health, metrics, log)
	if err != nil {
		return err
	}
	defer stopHealth()
	mgr, stopRegistry, err := startWorker(ctx, cfg, kafka, nil, log, newRegistryMetrics(metrics),
		worker.InMemoryConfigs(), worker.OnFailed(failed.add))
	if err != nil {
		if ctx.Err() != nil {
			log.Info().Msg("stopped on signal")
			return nil
		}
		return err
	}
	defer stopRegistry()
	defer mgr.Close()
	metrics.MustRegister(mgr.Collector())
	health.Open(mgr)
	go notifyWhenReady(ctx, mgr, log)
	select {
	case <-ctx.Done():
		mgr.Close()
		log.Info().Msg("stopped on signal")
		return nil
	case <-failed.all:
		return failed.err()
	}
}

// failures collects the connectors that failed for good, and says when all have.
type failures struct {
	log   zerolog.Logger
	names []string // the file's connectors, in its order
	// all is closed once every connector has failed.
	all chan struct{}

	mu   sync.Mutex
	errs map[string]error
}

func newFailures(conns []ConnectorConfig, log zerolog.Logger) *failures {
	f := &failures{log: log, all: make(chan struct{}), errs: make(map[string]error, len(conns))}
	for _, conn := range conns {
		f.names = append(f.names, conn.Name)
	}
	return f
}

// add records that the connector failed with err, and says that it stopped, as cdcd without
// the API always has; it is the worker's OnFailed function.
func (f *failures) add(name string, err error) {
	f.log.Error().Err(err).Str("connector", name).Msg("connector stopped")
	f.mu.Lock()
	defer f.mu.Unlock()
	first := len(f.errs) < len(f.names)
	f.errs[name] = err
	if first && len(f.errs) == len(f.names) {
		close(f.all)
	}
}

// err joins the connectors' errors, in the file's order.
func (f *failures) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	errs := make([]error, 0, len(f.names))
	for _, name := range f.names {
		if err := f.errs[name]; err != nil {
			errs = append(errs, fmt.Errorf("connector %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// startWorker opens the schema registry and starts the worker on the file's connectors, with
// opts (where it keeps the configurations, the worker id ...) after cdcd's, trying again with
// backoff while Kafka cannot be reached. It warns when the start is slow and then every
// minute and, with the API on (gate not nil), sets the gate's reason to the last error, so
// that a Kafka that hangs is in the log and in /readyz rather than silent. It returns ctx's
// error when ctx ends first, and a configuration error at once.
func startWorker(ctx context.Context, cfg *Config, kafka []kgo.Opt, gate *api.Gate, log zerolog.Logger,
	reqs *registryMetrics, opts ...worker.Option) (*worker.Manager, func(), error) {
	waiting := waitingForKafka(cfg)
	stillWaiting := "still " + waiting
	if gate != nil {
		stillWaiting += ": the API answers not ready until it does"
	}
	started := time.Now()
	noticeDone := make(chan struct{})
	defer close(noticeDone)
	go func() {
		notice := time.NewTimer(kafkaWaitGrace)
		defer notice.Stop()
		for {
			select {
			case <-noticeDone:
				return
			case <-notice.C:
				log.Warn().Strs("brokers", cfg.Kafka.Brokers).Stringer("waited", time.Since(started).Round(time.Second)).
					Msg(stillWaiting)
				notice.Reset(kafkaWaitNotice)
			}
		}
	}()

	static := make(map[string]api.Config, len(cfg.Connectors))
	for _, conn := range cfg.Connectors {
		static[conn.Name] = flattenConnector(conn)
	}
	backoff := minKafkaRetry
	for {
		registry, stopRegistry, err := openRegistry(ctx, cfg, kafka, log, reqs)
		if err == nil {
			factory := &connectorFactory{cfg: cfg, kafka: kafka, registry: registry, log: log}
			var mgr *worker.Manager
			mgr, err = worker.New(ctx, factory, append([]worker.Option{
				worker.KafkaOpts(kafka...),
				worker.OffsetsTopic(cfg.Kafka.OffsetsTopic),
				worker.Logger(log),
				worker.StaticConnectors(static),
			}, opts...)...)
			if err == nil {
				return mgr, stopRegistry, nil
			}
			stopRegistry()
			err = fmt.Errorf("starting the connectors: %w", err)
		}
		switch {
		case ctx.Err() != nil:
			return nil, nil, ctx.Err()
		case errors.Is(err, ErrConfig), errors.Is(err, worker.ErrInvalidOption), errors.Is(err, api.ErrInvalid):
			// A static connector the worker refuses will be refused again: no retry.
			return nil, nil, err
		case isKafkaSecurityError(err):
			// Credentials or a certificate refused are refused again: no retry.
			if kafkaDenied(err) {
				return nil, nil, kafkaRefusal(err, &cfg.Kafka)
			}
			return nil, nil, fmt.Errorf("connecting to Kafka at %s (%s): %w", strings.Join(cfg.Kafka.Brokers, ","),
				cfg.Kafka.securityProtocol(), err)
		}
		if gate != nil {
			gate.SetReason(waiting + " (last error: " + err.Error() + ")")
		}
		log.Warn().Err(err).Stringer("retry_in", backoff).Msg("starting: Kafka not reachable, retrying")
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, maxKafkaRetry)
	}
}

// serveEmbeddedRegistry starts cdcd's own registry on cfg.Registry.Listen, its store reached
// with the Kafka client options kafka, and returns its URL and a function that stops it.
func serveEmbeddedRegistry(ctx context.Context, cfg *Config, kafka []kgo.Opt, log zerolog.Logger) (string, func(), error) {
	level, err := avro.ParseCompatibility(cfg.Registry.Compatibility)
	if err != nil {
		return "", nil, fmt.Errorf("%w: registry.compatibility: %w", ErrConfig, err)
	}
	reg, err := schemaregistry.Open(ctx,
		schemaregistry.WithClientOpts(kafka...),
		schemaregistry.WithTopic(cfg.Registry.Topic),
		schemaregistry.WithDefaultCompatibility(level),
		schemaregistry.WithToken(cfg.Registry.Token),
	)
	if err != nil {
		return "", nil, fmt.Errorf("starting the embedded schema registry: %w", err)
	}
	serverTLS, _, err := embeddedRegistryTLS(cfg.Registry)
	if err != nil {
		reg.Close()
		return "", nil, err
	}
	ln, err := reg.Listen(cfg.Registry.Listen)
	if err != nil {
		reg.Close()
		if errors.Is(err, schemaregistry.ErrInvalidOption) {
			return "", nil, fmt.Errorf("%w: registry.listen %s: %w: set registry.token", ErrConfig, cfg.Registry.Listen, err)
		}
		return "", nil, fmt.Errorf("%w: embedded schema registry: listening on %s (registry.listen): %w", ErrConfig, cfg.Registry.Listen, err)
	}
	scheme := "http://"
	if serverTLS != nil {
		ln, scheme = tls.NewListener(ln, serverTLS), "https://"
	}
	srv := &http.Server{Handler: reg.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("embedded schema registry stopped serving")
		}
	}()
	url := scheme + ln.Addr().String()
	log.Info().Str("url", url).Str("topic", cfg.Registry.Topic).Bool("token", cfg.Registry.Token != "").
		Msg("embedded schema registry serving")
	stop := func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
		reg.Close()
	}
	return url, stop, nil
}

// buildPipeline opens the connector's source, which reports its snapshots' progress to board
// (nil: nowhere), and builds its encoder and pipeline, whose Kafka clients have the options
// kafka.
func buildPipeline(ctx context.Context, cfg *Config, kafka []kgo.Opt, conn ConnectorConfig, registry avro.Registry,
	board *snapshot.Board, log zerolog.Logger) (*pipeline.Pipeline, error) {
	src, envelope, err := openSource(ctx, cfg, conn, board, log)
	if err != nil {
		return nil, err
	}
	envelope.TopicPrefix = conn.TopicPrefix
	envelope.ConnectorName = conn.TopicPrefix
	envelope.Version = version
	envelope.Placeholder = conn.UnavailableValuePlaceholder
	envelope.Settings = conn.formatSettings()
	enc, err := formats(cfg.Registry.Compatibility, registry).New(conn.Format, envelope)
	if err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}

	opts, err := pipelineOptions(cfg, kafka, conn, log)
	if err != nil {
		return nil, err
	}
	p, err := pipeline.New(src, enc, opts...)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return p, nil
}

// pipelineOptions are the options of the connector's pipeline, whose Kafka clients have the
// options kafka.
func pipelineOptions(cfg *Config, kafka []kgo.Opt, conn ConnectorConfig, log zerolog.Logger) ([]pipeline.Option, error) {
	chain, err := transformChain(conn.Transforms, transform.WithLogger(log.With().Str("connector", conn.Name).Logger()))
	if err != nil {
		return nil, fmt.Errorf("transforms: %w", err)
	}
	opts := []pipeline.Option{
		pipeline.Transforms(chain),
		pipeline.ConnectorName(conn.Name),
		pipeline.TopicPrefix(conn.TopicPrefix),
		pipeline.KafkaOpts(kafka...),
		pipeline.OffsetsTopic(cfg.Kafka.OffsetsTopic),
		// The pipeline adds the connector's name to its log lines itself.
		pipeline.Logger(log),
	}
	if conn.TombstonesOnDelete != nil && !*conn.TombstonesOnDelete {
		opts = append(opts, pipeline.WithTombstones(pipeline.TombstonesOff))
	}
	if conn.MaxBatchRecords > 0 {
		opts = append(opts, pipeline.MaxBatchRecords(conn.MaxBatchRecords))
	}
	if conn.ErrorPolicy != "" {
		// Validated: the policy parses.
		policy, _ := pipeline.ParsePolicy(conn.ErrorPolicy)
		topic := ""
		if policy == pipeline.PolicyDLQ {
			topic = conn.DLQTopic
			if topic == "" {
				topic = conn.TopicPrefix + ".dlq"
			}
		}
		opts = append(opts, pipeline.ErrorPolicy(policy, topic))
	}
	if conn.MaxBatchLingerMS > 0 {
		opts = append(opts, pipeline.MaxLinger(time.Duration(conn.MaxBatchLingerMS)*time.Millisecond))
	}
	opts = append(opts, lingerOptions(conn)...)
	if conn.ProvideTransactionMetadata {
		opts = append(opts, pipeline.TransactionMetadata())
	}
	if ops, set := skippedOperations(conn.SkippedOperations); set {
		opts = append(opts, pipeline.SkipOperations(ops...))
	}
	if conn.MaxQueueSize > 0 || conn.MaxQueueSizeInBytes > 0 {
		opts = append(opts, pipeline.EventBuffer(
			cmp.Or(conn.MaxQueueSize, pipeline.DefaultEventBuffer),
			cmp.Or(conn.MaxQueueSizeInBytes, pipeline.DefaultEventBufferBytes)))
	}
	if keys, err := transform.ParseKeyColumns(conn.MessageKeyColumns); err != nil {
		return nil, fmt.Errorf("message_key_columns: %w", err)
	} else if keys != nil {
		opts = append(opts, pipeline.MessageKeyColumns(keys))
	}
	if tc, err := topicCreationOption(conn.TopicCreation); err != nil {
		return nil, err
	} else if tc != nil {
		opts = append(opts, tc)
	}
	if conn.ProducerBufferBytes > 0 {
		opts = append(opts, pipeline.ProduceBuffer(pipeline.DefaultMaxBufferedRecords, conn.ProducerBufferBytes))
	}
	return opts, nil
}

// openSource opens the connector's source through its kind (daemonKinds), which checks the
// database's settings and fails fast on what is wrong, and returns the envelope's parts its
// kind decides. A type no kind has is refused with the known ones (validation refuses it first).
func openSource(ctx context.Context, cfg *Config, conn ConnectorConfig, board *snapshot.Board, log zerolog.Logger) (connectors.Source, format.Config, error) {
	kinds := daemonKinds()
	k, ok := kinds.Get(conn.Type)
	if !ok {
		return nil, format.Config{}, fmt.Errorf("connector %s: %w", conn.Name, kinds.Unknown(conn.Type))
	}
	s := settingsOf(conn, k)
	env := sourceEnv(cfg, board, log)
	origin := k.Origin(s)
	// The source's errors name it ("postgres source: ..."): no prefix here.
	src, err := k.Open(ctx, s, env)
	return src, format.Config{Source: origin.Source, Database: origin.Database}, err
}
