// Package prometheus holds cdcd's Prometheus alert rules (cdcd-alerts.yml) and their unit tests
// (cdcd-alerts.test.yml); its Go test runs promtool on them. It has no code: the files are the
// artefact an operator loads into Prometheus.
package prometheus
