package api

import (
	"context"
	"fmt"
	"net/http"
)

// Cluster is GET /cluster: what a member of a group of daemons (group mode) knows of its group.
type Cluster struct {
	// Group is the group id.
	Group string `json:"group"`
	// Worker is the answering member's worker id, MemberID its id in the group.
	Worker   string `json:"worker"`
	MemberID string `json:"member_id"`
	// Generation is the group's generation the assignment is of.
	Generation int32 `json:"generation"`
	// Leader and LeaderWorker name the member that computed the assignment.
	Leader       string `json:"leader"`
	LeaderWorker string `json:"leader_worker"`
	// Stable is false while the member is between generations, or has stopped its connectors
	// for want of an answer from the group coordinator.
	Stable bool `json:"stable"`
	// Members are the generation's members, each with the connectors assigned to it.
	Members []ClusterMember `json:"members"`
}

// ClusterMember is one member of a [Cluster].
type ClusterMember struct {
	MemberID   string   `json:"member_id"`
	Worker     string   `json:"worker"`
	Connectors []string `json:"connectors"`
}

// WithCluster sets the function answering GET /cluster; without it (a daemon alone) the route
// answers 404. The function may return an error wrapping ErrUnavailable while the member has
// not joined yet.
func WithCluster(fn func(ctx context.Context) (Cluster, error)) Option {
	return func(c *config) { c.cluster = fn }
}

func (s *Server) getCluster(w http.ResponseWriter, r *http.Request) {
	if s.cfg.cluster == nil {
		s.writeError(w, r, fmt.Errorf("%w: this daemon is in no group (group.id is not set)", ErrNotFound))
		return
	}
	c, err := s.cfg.cluster(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if c.Members == nil {
		c.Members = []ClusterMember{}
	}
	for i := range c.Members {
		if c.Members[i].Connectors == nil {
			c.Members[i].Connectors = []string{}
		}
	}
	writeJSON(w, http.StatusOK, c)
}
