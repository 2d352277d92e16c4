// Package deploy holds cdcd's deployment artefacts (the Containerfile, kubernetes/, helm/,
// systemd/) and, as Go code, only their tests: the Containerfile's instructions, the static
// binary the image holds, the chart rendered by Helm and every manifest decoded strictly into
// the Kubernetes API types, and the unit file checked by systemd-analyze. The image itself is
// built in integration/image_test.go. docs/deployment.md describes the artefacts.
package deploy
