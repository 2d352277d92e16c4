package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/schemaregistry"
	"github.com/cdcd-dev/cdcd/schemaregistry/embedded"
	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/cdcd-dev/cdcd/worker"
)

func newRunCommand() *cobra.Command {
	var configPath, cpuProfile string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the configured connectors until SIGTERM or SIGINT",
		Long: `Run reads the config file, serves the embedded schema registry when no registry URL is
configured, and runs every connector: PostgreSQL changes into Kafka, exactly once. On SIGTERM or
SIGINT the open Kafka transaction is aborted (its changes are re-read on the next start), the
source is acknowledged up to the last commit, and cdcd exits 0.`,
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

// runDaemon runs until ctx ends (then it returns nil) or until every connector has stopped
// (then it returns what stopped them). A connector that fails does not stop the others.
func runDaemon(ctx context.Context, cfg *Config, log zerolog.Logger) error {
	registryURL := cfg.Registry.URL
	if registryURL == "" {
		url, stopRegistry, err := serveEmbeddedRegistry(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer stopRegistry()
		registryURL = url
	}
	registry := schemaregistry.NewSRClient(registryURL, &http.Client{Timeout: 10 * time.Second})
	if cfg.API.Listen == apiOff {
		return runStatic(ctx, cfg, registry, log)
	}
	return runManaged(ctx, cfg, registry, log)
}

// runManaged runs the daemon: the worker, which keeps the connectors' configurations in the
// config topic (the file's connectors are applied to it at start) and runs each, and the REST
// API that manages them. It returns when ctx ends; a connector's failure is its status.
func runManaged(ctx context.Context, cfg *Config, registry schemaregistry.Registry, log zerolog.Logger) error {
	workerID := cfg.API.Advertised
	if workerID == "" {
		workerID = cfg.API.Listen
	}
	static := make(map[string]api.Config, len(cfg.Connectors))
	for _, conn := range cfg.Connectors {
		static[conn.Name] = flattenConnector(conn)
	}
	factory := &connectorFactory{cfg: cfg, registry: registry, log: log}
	mgr, err := worker.New(ctx, factory,
		worker.SeedBrokers(cfg.Kafka.Brokers...),
		worker.ConfigTopic(cfg.Kafka.ConfigTopic),
		worker.OffsetsTopic(cfg.Kafka.OffsetsTopic),
		worker.WorkerID(workerID),
		worker.Logger(log),
		worker.StaticConnectors(static),
	)
	if err != nil {
		return fmt.Errorf("starting the connectors: %w", err)
	}
	defer mgr.Close()
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), mgr.Collector())
	opts := []api.Option{
		api.WithAddr(cfg.API.Listen), api.WithToken(cfg.API.Token), api.WithWorkerID(workerID),
		api.WithGatherer(metrics), api.WithVersion(version), api.WithLogger(log),
	}
	if cfg.API.TLSCert != "" {
		opts = append(opts, api.WithTLS(cfg.API.TLSCert, cfg.API.TLSKey))
	}
	srv, err := api.New(mgr, opts...)
	if err != nil {
		return fmt.Errorf("%w: api: %w", ErrConfig, err)
	}
	log.Info().Str("listen", cfg.API.Listen).Str("config_topic", cfg.Kafka.ConfigTopic).Msg("REST API serving")
	if err := srv.Serve(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("REST API: %w", err)
	}
	log.Info().Msg("stopped on signal")
	return nil
}

// runStatic runs the file's connectors without the API (api.listen off): until ctx ends (then
// it returns nil) or until every connector has stopped (then it returns what stopped them). A
// connector that fails does not stop the others.
func runStatic(ctx context.Context, cfg *Config, registry schemaregistry.Registry, log zerolog.Logger) error {
	var wg sync.WaitGroup
	errs := make([]error, len(cfg.Connectors))
	for i, conn := range cfg.Connectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clog := log.With().Str("connector", conn.Name).Logger()
			if err := runConnector(ctx, cfg, conn, registry, log); err != nil && ctx.Err() == nil {
				clog.Error().Err(err).Msg("connector stopped")
				errs[i] = fmt.Errorf("connector %s: %w", conn.Name, err)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		log.Info().Msg("stopped on signal")
		return nil
	}
	return errors.Join(errs...)
}

// serveEmbeddedRegistry starts cdcd's own registry on cfg.Registry.Listen and returns its URL
// and a function that stops it.
func serveEmbeddedRegistry(ctx context.Context, cfg *Config, log zerolog.Logger) (string, func(), error) {
	level, err := schemaregistry.ParseCompatibility(cfg.Registry.Compatibility)
	if err != nil {
		return "", nil, fmt.Errorf("%w: registry.compatibility: %w", ErrConfig, err)
	}
	reg, err := embedded.Open(ctx,
		embedded.WithBrokers(cfg.Kafka.Brokers...),
		embedded.WithTopic(cfg.Registry.Topic),
		embedded.WithDefaultCompatibility(level),
	)
	if err != nil {
		return "", nil, fmt.Errorf("starting the embedded schema registry: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Registry.Listen)
	if err != nil {
		reg.Close()
		return "", nil, fmt.Errorf("embedded schema registry: listening on %s (registry.listen): %w", cfg.Registry.Listen, err)
	}
	srv := &http.Server{Handler: reg.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("embedded schema registry stopped serving")
		}
	}()
	url := "http://" + ln.Addr().String()
	log.Info().Str("url", url).Str("topic", cfg.Registry.Topic).Msg("embedded schema registry serving")
	stop := func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
		reg.Close()
	}
	return url, stop, nil
}

// runConnector opens the connector's source, which checks the source's settings and fails fast
// on what is wrong, then runs its pipeline, restarting it from the committed offset after
// retryable failures.
func runConnector(ctx context.Context, cfg *Config, conn ConnectorConfig, registry schemaregistry.Registry, log zerolog.Logger) error {
	p, err := buildPipeline(ctx, cfg, conn, registry, nil, log)
	if err != nil {
		return err
	}
	log.Info().Str("connector", conn.Name).Str("transactional_id", p.TransactionalID()).Msg("connector running")
	return p.RunWithRestarts(ctx)
}

// buildPipeline opens the connector's source, which reports its snapshots' progress to board
// (nil: nowhere), and builds its encoder and pipeline.
func buildPipeline(ctx context.Context, cfg *Config, conn ConnectorConfig, registry schemaregistry.Registry, board *snapshot.Board,
	log zerolog.Logger) (*pipeline.Pipeline, error) {
	src, encOpts, err := openSource(ctx, cfg, conn, board, log)
	if err != nil {
		return nil, err
	}
	encOpts = append(encOpts,
		schemaregistry.WithTopicPrefix(conn.TopicPrefix),
		schemaregistry.WithConnectorName(conn.TopicPrefix),
		schemaregistry.WithRegistry(registry),
		schemaregistry.WithVersion(version),
	)
	if conn.UnavailableValuePlaceholder != "" {
		encOpts = append(encOpts, schemaregistry.WithPlaceholder(conn.UnavailableValuePlaceholder))
	}
	if level, err := schemaregistry.ParseCompatibility(cfg.Registry.Compatibility); err == nil {
		encOpts = append(encOpts, schemaregistry.WithDefaultCompatibility(level))
	}
	enc, err := schemaregistry.NewEncoder(encOpts...)
	if err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}

	chain, err := transformChain(conn.Transforms)
	if err != nil {
		return nil, fmt.Errorf("transforms: %w", err)
	}
	opts := []pipeline.Option{
		pipeline.Transforms(chain),
		pipeline.ConnectorName(conn.Name),
		pipeline.TopicPrefix(conn.TopicPrefix),
		pipeline.SeedBrokers(cfg.Kafka.Brokers...),
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
	if conn.ProvideTransactionMetadata {
		opts = append(opts, pipeline.TransactionMetadata())
	}
	if conn.MaxQueueSize > 0 || conn.MaxQueueSizeInBytes > 0 {
		opts = append(opts, pipeline.EventBuffer(
			cmp.Or(conn.MaxQueueSize, pipeline.DefaultEventBuffer),
			cmp.Or(conn.MaxQueueSizeInBytes, pipeline.DefaultEventBufferBytes)))
	}
	if conn.ProducerBufferBytes > 0 {
		opts = append(opts, pipeline.ProduceBuffer(pipeline.DefaultMaxBufferedRecords, conn.ProducerBufferBytes))
	}
	p, err := pipeline.New(src, enc, opts...)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return p, nil
}

// openSource opens the connector's source, which checks the database's settings and fails fast
// on what is wrong, and returns the encoder options its kind needs.
func openSource(ctx context.Context, cfg *Config, conn ConnectorConfig, board *snapshot.Board, log zerolog.Logger) (pipeline.Source, []schemaregistry.Option, error) {
	switch conn.Type {
	case "mysql":
		mc := mysqlConfig(cfg, conn, log)
		mc.Progress = board
		src, err := mysql.Open(ctx, mc)
		if err != nil {
			err = fmt.Errorf("mysql source: %w", err)
		}
		return src, []schemaregistry.Option{schemaregistry.WithConnectorKind(schemaregistry.KindMySQL)}, err
	default:
		pc := postgresConfig(conn, log)
		pc.Progress = board
		// The heartbeat topic lives in the same Kafka as the connector's records.
		pc.Kafka = []kgo.Opt{kgo.SeedBrokers(cfg.Kafka.Brokers...)}
		src, err := postgres.Open(ctx, pc)
		if err != nil {
			err = fmt.Errorf("postgres source: %w", err)
		}
		return src, []schemaregistry.Option{
			schemaregistry.WithConnectorKind(schemaregistry.KindPostgreSQL),
			schemaregistry.WithDatabase(conn.Postgres.Database),
		}, err
	}
}

// mysqlConfig is the source configuration of a validated mysql connector.
func mysqlConfig(cfg *Config, conn ConnectorConfig, log zerolog.Logger) mysql.Config {
	my := conn.MySQL
	ddl := mysql.UnparseableDDLFail
	if my.SkipUnparseableDDL {
		ddl = mysql.UnparseableDDLSkip
	}
	// Validated: the duration parses.
	heartbeat, _ := time.ParseDuration(my.HeartbeatInterval)
	return mysql.Config{
		Name:      conn.Name,
		Host:      my.Host,
		Port:      uint16(my.Port),
		User:      my.User,
		Password:  my.Password,
		ServerID:  my.ServerID,
		Databases: my.Databases,
		Tables:    my.Tables,
		// The schema history topic lives in the same Kafka as the connector's records.
		Kafka:                []kgo.Opt{kgo.SeedBrokers(cfg.Kafka.Brokers...)},
		HistoryTopic:         my.HistoryTopic,
		UnparseableDDL:       ddl,
		SnapshotMode:         mysqlSnapshotModes[my.SnapshotMode],
		SnapshotChunkRows:    my.SnapshotChunkRows,
		SnapshotChunkBytes:   my.SnapshotChunkBytes,
		SignalTable:          my.SignalTable,
		IncrementalChunkRows: my.IncrementalSnapshotChunkRows,
		HeartbeatInterval:    heartbeat,
		TopicPrefix:          conn.TopicPrefix,
		HeartbeatTopic:       connectors.HeartbeatTopic(conn.TopicPrefix),
		Logger:               log.With().Str("connector", conn.Name).Logger(),
	}
}

// postgresConfig is the source configuration of a validated postgres connector.
func postgresConfig(conn ConnectorConfig, log zerolog.Logger) postgres.Config {
	pg := conn.Postgres
	streaming := postgres.StreamingOn
	if pg.Streaming == "off" {
		streaming = postgres.StreamingOff
	}
	// Validated: the durations parse.
	window, _ := time.ParseDuration(pg.ReplayWindow)
	heartbeat, _ := time.ParseDuration(pg.HeartbeatInterval)
	return postgres.Config{
		Host:        pg.Host,
		Port:        uint16(pg.Port),
		SSLMode:     pg.SSLMode,
		User:        pg.User,
		Password:    pg.Password,
		Database:    pg.Database,
		Slot:        pg.Slot,
		Publication: pg.Publication,
		Connector:   conn.Name,
		Tables:      pg.Tables,
		Streaming:   streaming,
		SpillDir:    pg.SpillDir,
		// Validated by the config: the map holds every accepted value.
		SnapshotMode:         snapshotModes[pg.SnapshotMode],
		SnapshotChunkRows:    pg.SnapshotChunkRows,
		SnapshotChunkBytes:   pg.SnapshotChunkBytes,
		SnapshotMaxThreads:   pg.SnapshotMaxThreads,
		SignalTable:          pg.SignalTable,
		IncrementalChunkRows: pg.IncrementalSnapshotChunkRows,
		ReplayWindow:         window,
		HeartbeatInterval:    heartbeat,
		TopicPrefix:          conn.TopicPrefix,
		HeartbeatTopic:       postgres.DefaultHeartbeatTopic(conn.TopicPrefix),
		Logger:               log.With().Str("connector", conn.Name).Logger(),
	}
}
