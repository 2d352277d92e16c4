// Package group makes several cdcd daemons one group through Kafka's group protocol, as Kafka
// Connect's distributed workers are: every daemon started with the same group id is a member
// (JoinGroup, SyncGroup, Heartbeat and LeaveGroup with the protocol type "cdcd"), the member the
// coordinator elects leader computes which member runs which connector ([Assign]), and each
// member runs only the connectors it is given. Kafka is the coordinator: there is no other
// system to run.
//
// The assignment is balanced by connector count, sticky and incremental cooperative, as Kafka
// Connect's since 2.3: a connector that moves is first revoked from its owner (given to nobody
// in that generation); the owner stops it and rejoins at once, which starts the next
// generation, where it is unowned and given to its new member. Two members therefore never run
// one connector, and a connector that does not move is never stopped. A member that cannot
// heartbeat stops its connectors before its session would expire on the broker's side
// ([Member] watches its last answer from the coordinator), so that the group may give them to
// another member once the broker has dropped it.
//
// A member that leaves (its session expired, or it left) loses its connectors; with a
// rebalance delay (Connect's scheduled.rebalance.max.delay.ms) the leader holds them
// unassigned for that long, and gives them back to a member of the same worker id (the
// daemon restarted) or, once the delay is over, to the others.
//
// The metadata a member sends when it joins ([Metadata]) and the assignment the leader sends
// it back ([Assignment]) are versioned JSON documents of our own.
package group
