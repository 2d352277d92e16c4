package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/cdcd-dev/cdcd/api"
)

// The commands below talk to a running daemon's REST API, as curl would: each prints the
// answer's JSON (or, for list, one name per line), and an error answer becomes an error that
// quotes the daemon's message.

// defaultAPIURL is where the commands find the daemon unless told otherwise.
const defaultAPIURL = "http://" + api.DefaultAddr

// apiClient calls the REST API.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

// apiFlags adds --api and --token to cmd; the client reads them (or CDCD_API, CDCD_API_TOKEN).
func apiFlags(cmd *cobra.Command) *apiClient {
	c := &apiClient{http: &http.Client{Timeout: 60 * time.Second}}
	base := os.Getenv("CDCD_API")
	if base == "" {
		base = defaultAPIURL
	}
	cmd.PersistentFlags().StringVar(&c.base, "api", base, "the daemon's REST API (env CDCD_API)")
	cmd.PersistentFlags().StringVar(&c.token, "token", os.Getenv("CDCD_API_TOKEN"), "the API's bearer token (env CDCD_API_TOKEN)")
	return c
}

// APIError is an error answer of the REST API.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("the daemon answered %d: %s", e.Status, e.Message)
}

// do sends a request with an optional JSON body and decodes a JSON answer into out (when not
// nil).
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encoding the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.base, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("--api %s: %w", c.base, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("calling the daemon at %s: %w", c.base, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading the daemon's answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(raw))
		}
		return &APIError{Status: resp.StatusCode, Message: e.Message}
	}
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decoding the daemon's answer: %w", err)
	}
	return nil
}

// printJSON prints v indented.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func pathOf(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}

func newConnectorsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "connectors", Short: "Manage the connectors of a running daemon over its REST API"}
	c := apiFlags(cmd)
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List the connectors' names", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var names []string
			if err := c.do(cmd.Context(), http.MethodGet, "/connectors", nil, &names); err != nil {
				return err
			}
			for _, n := range names {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use: "get NAME", Short: "Print a connector's configuration and status", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var info api.ConnectorInfo
			var status api.ConnectorStatus
			if err := c.do(cmd.Context(), http.MethodGet, pathOf("connectors", args[0]), nil, &info); err != nil {
				return err
			}
			if err := c.do(cmd.Context(), http.MethodGet, pathOf("connectors", args[0], "status"), nil, &status); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), map[string]any{"name": info.Name, "config": info.Config, "status": status})
		},
	})
	cmd.AddCommand(newApplyCommand(c))
	cmd.AddCommand(newDeleteCommand(c))
	for _, action := range []struct {
		use, short, method, suffix string
	}{
		{"pause NAME", "Pause a connector: it keeps its resources but reads nothing", http.MethodPut, "pause"},
		{"resume NAME", "Resume a paused or stopped connector", http.MethodPut, "resume"},
		{"stop NAME", "Stop a connector, releasing its resources (its offsets may then be changed)", http.MethodPut, "stop"},
		{"restart NAME", "Restart a connector from its committed offset", http.MethodPost, "restart"},
	} {
		cmd.AddCommand(&cobra.Command{
			Use: action.use, Short: action.short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				path := pathOf("connectors", args[0])
				if action.suffix != "" {
					path += "/" + action.suffix
				}
				if err := c.do(cmd.Context(), action.method, path, nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "connector %s: %s done\n", args[0], strings.Fields(action.use)[0])
				return nil
			},
		})
	}
	return cmd
}

// newApplyCommand is `connectors apply -f FILE [--wait] [--wait-timeout D]`.
func newApplyCommand(c *apiClient) *cobra.Command {
	var file string
	var wait bool
	var waitTimeout time.Duration
	apply := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or update the connectors a YAML or JSON file describes, and wait until they run",
		Long: `Apply reads connectors in the config file's format, either one connector (name, type,
topic_prefix, postgres or mysql section) or a "connectors:" list, checks them as the daemon
would (every problem listed at once), and PUTs each one's configuration: created when new,
updated (and restarted) otherwise. With --wait (the default) it then waits until each
connector is RUNNING or FAILED, at most --wait-timeout, prints the error of one that failed
or is still retrying, and exits non-zero unless all run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conns, err := readConnectorsFile(file)
			if err != nil {
				return err
			}
			for _, conn := range conns {
				var info api.ConnectorInfo
				if err := c.do(cmd.Context(), http.MethodPut, pathOf("connectors", conn.Name, "config"), flattenConnector(conn), &info); err != nil {
					return fmt.Errorf("connector %s: %w", conn.Name, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "connector %s applied\n", conn.Name)
			}
			if !wait {
				return nil
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), waitTimeout)
			defer cancel()
			var failed []string
			for _, conn := range conns {
				if err := c.waitRunning(ctx, conn.Name, cmd.OutOrStdout()); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "connector %s: %v\n", conn.Name, err)
					failed = append(failed, conn.Name)
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("not running: %s", strings.Join(failed, ", "))
			}
			return nil
		},
	}
	apply.Flags().StringVarP(&file, "file", "f", "", "the YAML or JSON file")
	apply.Flags().BoolVar(&wait, "wait", true, "wait until each connector is RUNNING or FAILED (--wait=false: return once applied)")
	apply.Flags().DurationVar(&waitTimeout, "wait-timeout", 2*time.Minute, "how long --wait waits for all the connectors")
	_ = apply.MarkFlagRequired("file")
	return apply
}

// statusPoll is how often waitRunning asks for a connector's status.
const statusPoll = 500 * time.Millisecond

// waitRunning polls the connector's status until it is RUNNING (or DEGRADED, PAUSED or
// STOPPED, its target state: nil, the state printed on out), FAILED (an error with the trace),
// or ctx ends (an error with the last state and error: a connector RESTARTING keeps retrying).
// A connector just applied is UNASSIGNED while its source opens.
func (c *apiClient) waitRunning(ctx context.Context, name string, out io.Writer) error {
	var last api.ConnectorState
	t := time.NewTicker(statusPoll)
	defer t.Stop()
	for {
		var st api.ConnectorStatus
		err := c.do(ctx, http.MethodGet, pathOf("connectors", name, "status"), nil, &st)
		switch {
		case err != nil && ctx.Err() == nil:
			return err
		case err == nil:
			last = st.Connector
			if len(st.Tasks) > 0 {
				last.State, last.Trace = st.Tasks[0].State, cmp.Or(st.Tasks[0].Trace, last.Trace)
			}
			switch last.State {
			case api.StateRunning, api.StateDegraded:
				fmt.Fprintf(out, "connector %s %s\n", name, last.State)
				return nil
			case api.StateFailed:
				return fmt.Errorf("FAILED: %s", last.Trace)
			case api.StatePaused, api.StateStopped:
				// Its target state, kept by the update: what was asked for.
				fmt.Fprintf(out, "connector %s %s, as it was: resume it to run it\n", name, last.State)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("still %s after --wait-timeout", cmp.Or(last.State, "unknown"))
			if last.Trace != "" {
				msg += ", retrying after: " + last.Trace
			}
			return errors.New(msg)
		case <-t.C:
		}
	}
}

// newDeleteCommand is `connectors delete NAME [--purge]`: it prints what the connector left on
// its source (a PostgreSQL slot keeps WAL until dropped), or what --purge dropped.
func newDeleteCommand(c *apiClient) *cobra.Command {
	var purge bool
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a connector (its offsets stay in Kafka); --purge also drops its PostgreSQL slot and publication",
		Long: `Delete stops the connector and forgets it; its offsets stay in Kafka. A PostgreSQL connector's
replication slot stays on the server and keeps WAL until it is dropped: delete prints it and how
to drop it. With --purge, the slot, and the publication when cdcd named it, are dropped once the
connector has stopped. A MySQL connector keeps nothing on the server.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := pathOf("connectors", args[0])
			if purge {
				path += "?purge=true"
			}
			var d api.Deleted
			if err := c.do(cmd.Context(), http.MethodDelete, path, nil, &d); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), d.Message)
			for _, s := range d.Dropped {
				fmt.Fprintln(cmd.OutOrStdout(), "dropped: "+s)
			}
			for _, s := range d.Kept {
				cmd.PrintErrln("warning: kept: " + s)
			}
			return nil
		},
	}
	del.Flags().BoolVar(&purge, "purge", false, "also drop what the connector keeps on its source (PostgreSQL: its replication slot and the publication cdcd created)")
	return del
}

// readConnectorsFile reads one connector, or a "connectors:" list, in the config file's format,
// and checks each as the daemon would: every problem is listed at once, with its path, before
// anything is sent.
func readConnectorsFile(path string) ([]ConnectorConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var probe map[string]any
	if err := yaml.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("%s: %s", path, cleanYAMLError(err))
	}
	var conns []ConnectorConfig
	var problems []string
	prefix := func(int) string { return "" }
	if _, isList := probe["connectors"]; isList {
		var list struct {
			Connectors []ConnectorConfig `json:"connectors"`
		}
		problems, _ = decodeYAML(raw, &list)
		conns = list.Connectors
		prefix = func(i int) string { return fmt.Sprintf("connectors[%d].", i) }
	} else {
		var one ConnectorConfig
		problems, _ = decodeYAML(raw, &one)
		conns = []ConnectorConfig{one}
	}
	var invalid []string
	for i, conn := range conns {
		for _, fe := range validateConnector(withDefaults(conn)) {
			where := strings.TrimSuffix(prefix(i)+fe.Name, ".")
			if where == "" {
				where = "the connector"
			}
			invalid = append(invalid, where+": "+fe.Message)
		}
	}
	problems = append(problems, withoutShadowed(problems, invalid)...)
	if err := problemsError(problems); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(conns) == 0 {
		return nil, fmt.Errorf("%s: neither a connector (with a name) nor a connectors: list", path)
	}
	return conns, nil
}

// withDefaults returns conn with the defaults applied, leaving conn's sections as they are
// (what is sent keeps the daemon's defaults to the daemon).
func withDefaults(conn ConnectorConfig) ConnectorConfig {
	conn = copySections(conn)
	applyConnectorDefaults(&conn)
	return conn
}

func newOffsetsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "offsets", Short: "Read, set or reset a connector's stored offsets over the REST API"}
	c := apiFlags(cmd)
	cmd.AddCommand(&cobra.Command{
		Use: "get NAME", Short: "Print a connector's committed offsets (KIP-875's shape)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var offs api.Offsets
			if err := c.do(cmd.Context(), http.MethodGet, pathOf("connectors", args[0], "offsets"), nil, &offs); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), offs)
		},
	})
	var file, offset string
	set := &cobra.Command{
		Use:   "set NAME (-f FILE | --offset JSON)",
		Short: "Replace a stopped connector's offset (replay from an earlier position)",
		Long: `Set PATCHes the connector's offsets: FILE holds a body as "offsets get" prints it, or
--offset gives the one offset's JSON ({"source": {...}}). The connector must be stopped; the
daemon refuses a position its source no longer has, saying why.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body api.Offsets
			switch {
			case file != "" && offset != "":
				return errors.New("give -f or --offset, not both")
			case file != "":
				raw, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("reading %s: %w", file, err)
				}
				if err := json.Unmarshal(raw, &body); err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
			case offset != "":
				var current api.Offsets
				if err := c.do(cmd.Context(), http.MethodGet, pathOf("connectors", args[0], "offsets"), nil, &current); err != nil {
					return err
				}
				partition := map[string]any{}
				if len(current.Offsets) > 0 {
					partition = current.Offsets[0].Partition
				}
				if !json.Valid([]byte(offset)) {
					return errors.New("--offset is not JSON")
				}
				body.Offsets = []api.Offset{{Partition: partition, Offset: json.RawMessage(offset)}}
			default:
				return errors.New("give the offset with -f FILE or --offset JSON")
			}
			var answer map[string]any
			if err := c.do(cmd.Context(), http.MethodPatch, pathOf("connectors", args[0], "offsets"), body, &answer); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), answer)
		},
	}
	set.Flags().StringVarP(&file, "file", "f", "", "a JSON file with the offsets body")
	set.Flags().StringVar(&offset, "offset", "", "the offset's JSON, for the connector's one partition")
	cmd.AddCommand(set)
	cmd.AddCommand(&cobra.Command{
		Use: "reset NAME", Short: "Delete a stopped connector's offsets: it starts anew as its snapshot mode says", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var answer map[string]any
			if err := c.do(cmd.Context(), http.MethodDelete, pathOf("connectors", args[0], "offsets"), nil, &answer); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), answer)
		},
	})
	return cmd
}
