/// The single entry point for peer messages, the logical clock, and elections.
extension Raft {
    /// Handles one message: term comparison and votes here, the rest in the role's handler.
    mutating func step(_ m: Message) throws(RaftError) {
        guard m.to == id else { throw .invalidMessage(reason: "message for \(m.to) delivered to \(id)") }
        guard m.from != id else { throw .invalidMessage(reason: "message from self") }
        if m.term > term {
            if !stepHigherTerm(m) { return }
        } else if m.term < term {
            stepLowerTerm(m)
            return
        }
        precondition(m.term == term || m.type == .requestPreVote || m.type == .preVoteResponse,
                     "term not reconciled")
        switch m.type {
        case .requestVote, .requestPreVote:
            handleVoteRequest(m)
        default:
            switch role {
            case .leader: stepLeader(m)
            case .candidate, .preCandidate: stepCandidate(m)
            case .follower: stepFollower(m)
            }
        }
    }

    /// A message from a later term. Returns false when it is to be ignored.
    private mutating func stepHigherTerm(_ m: Message) -> Bool {
        if m.type.isVoteRequest {
            let forced = m.context == transferCampaignContext
            let inLease = config.checkQuorum && lead != nil && electionElapsedTicks < config.electionTimeoutTicks
            // A follower that heard from a live leader within the election timeout ignores
            // (pre-)votes: a partitioned node rejoining must not depose a healthy leader.
            if inLease && !forced {
                coverage.record(.voteIgnoredByLease)
                return false
            }
        }
        switch m.type {
        case .requestPreVote:
            break // Pre-votes never change our term.
        case .preVoteResponse where !m.reject:
            break // A granted pre-vote carries the future term; the campaign will adopt it.
        case .append, .heartbeat, .snapshot:
            becomeFollower(term: m.term, leader: m.from)
        default:
            becomeFollower(term: m.term, leader: nil)
        }
        return true
    }

    /// A message from an earlier term: mostly ignored, but tell a stale leader or pre-candidate.
    private mutating func stepLowerTerm(_ m: Message) {
        if (config.checkQuorum || config.preVote) && (m.type == .heartbeat || m.type == .append) {
            // A leader cut off by a partition learns the newer term and steps down; with
            // check-quorum and pre-vote it could otherwise never hear of it.
            send(Message(type: .appendResponse, from: id, to: m.from))
        } else if m.type == .requestPreVote {
            send(Message(type: .preVoteResponse, from: id, to: m.from, reject: true))
        }
    }

    /// Grants a (pre-)vote to an up-to-date candidate if we have not voted for another in this term.
    private mutating func handleVoteRequest(_ m: Message) {
        let isPre = m.type == .requestPreVote
        var canVote = vote == m.from || (vote == nil && lead == nil) || (isPre && m.term > term)
        // CANARY doubleVote: grant regardless of an earlier vote in this term.
        if config.has(.doubleVote) && !isPre { canVote = canVote || lead == nil }
        let responseType: MessageType = isPre ? .preVoteResponse : .voteResponse
        guard canVote, log.isUpToDate(lastIndex: m.index, term: m.logTerm) else {
            send(Message(type: responseType, from: id, to: m.from, reject: true))
            return
        }
        // The grant carries the candidate's term: for a pre-vote that term is not ours yet.
        send(Message(type: responseType, from: id, to: m.from, term: m.term))
        if !isPre {
            if !config.has(.doubleVote) {
                precondition(vote == nil || vote == m.from, "second vote in term \(term)")
            }
            precondition(m.term == term, "vote granted outside the current term")
            electionElapsedTicks = 0
            vote = m.from
        }
    }

    // MARK: Ticks

    /// Advances the logical clock by one tick.
    mutating func tick() {
        if role == .leader {
            tickHeartbeat()
        } else {
            tickElection()
        }
    }

    private mutating func tickElection() {
        electionElapsedTicks += 1
        if isPromotable && electionElapsedTicks >= randomizedElectionTimeoutTicks {
            electionElapsedTicks = 0
            hup(transfer: false)
        }
        precondition(electionElapsedTicks <= randomizedElectionTimeoutTicks || !isPromotable,
                     "election timer overran")
    }

    private mutating func tickHeartbeat() {
        heartbeatElapsedTicks += 1
        electionElapsedTicks += 1
        if electionElapsedTicks >= config.electionTimeoutTicks {
            electionElapsedTicks = 0
            if !isPromotable {
                // A removed leader's hand-off had its election timeout: step down regardless.
                coverage.record(.removedLeaderSteppedDown)
                becomeFollower(term: term, leader: nil)
                return
            }
            if config.checkQuorum && !checkQuorumActive() { return }
            // A transfer that has not finished within an election timeout is abandoned.
            if leadTransferee != nil { coverage.record(.transferAbandoned) }
            leadTransferee = nil
        }
        guard role == .leader else { return }
        if tracker.tickSnapshots(limitTicks: 2 * config.electionTimeoutTicks) > 0 { coverage.record(.snapshotRetried) }
        if heartbeatElapsedTicks >= config.heartbeatTimeoutTicks {
            heartbeatElapsedTicks = 0
            broadcastHeartbeat(context: readOnly.lastContext ?? [])
        }
    }

    /// Check-quorum: steps down unless a quorum was heard from since the last check.
    /// Returns whether this node is still leader.
    private mutating func checkQuorumActive() -> Bool {
        let active = tracker.quorumActive(selfID: id)
        tracker.clearRecentActive(except: id)
        if !active {
            coverage.record(.checkQuorumStepDown)
            becomeFollower(term: term, leader: nil)
        }
        return active
    }

    // MARK: Elections

    /// Starts an election (after a pre-vote round unless `transfer` or pre-vote is off).
    mutating func hup(transfer: Bool) {
        guard role != .leader, isPromotable else { return }
        guard let electorate = electionMembership() else {
            coverage.record(.campaignHeldBackByMembership)
            return
        }
        if config.preVote && !transfer {
            campaign(pre: true, transfer: false, electorate: electorate)
        } else {
            campaign(pre: false, transfer: transfer, electorate: electorate)
        }
    }

    /// The configuration an election is counted in, or nil if this node must not campaign.
    ///
    /// Elections use the latest configuration in the log, applied or not (as in the Raft
    /// paper), while commits use the applied one (as in etcd). Without that, followers that
    /// hold but have not yet applied the entry leaving a joint configuration would still
    /// need the vote of a removed node, which may never come. A node the log's configuration
    /// removes does not campaign — removed nodes must not elect one of themselves, as the old
    /// and new majorities of a joint change may be disjoint — unless it is still a voter of
    /// an applied joint configuration, whose two majorities make any election safe. Nor does
    /// a node campaign while a committed change is unapplied.
    func electionMembership() -> Membership? {
        let pending = scanUnappliedMembershipChanges()
        if pending.committedUnapplied { return nil }
        if pending.latest.isVoter(id) { return pending.latest }
        if tracker.membership.isJoint && tracker.membership.isVoter(id) { return tracker.membership }
        return nil
    }

    /// Scans the unapplied log tail (bounded) for membership transitions: whether one is
    /// committed, and the configuration the whole log leads to.
    private func scanUnappliedMembershipChanges() -> (committedUnapplied: Bool, latest: Membership) {
        var latest = tracker.membership
        var committedUnapplied = false
        var lo = log.applied + 1
        var batches = 0
        while lo <= log.lastIndex && batches < 1024 {
            guard let ents = try? log.slice(lo, log.lastIndex + 1, maxBytes: config.maxSizePerMsgBytes),
                  let last = ents.last else { break }
            for e in ents where e.kind == .membershipChange {
                if e.index <= log.committed { committedUnapplied = true }
                if let t = MembershipTransition(encoded: e.data), case .success(let next) = latest.applying(t) { latest = next }
            }
            lo = last.index + 1
            batches += 1
        }
        return (committedUnapplied, latest)
    }

    private mutating func campaign(pre: Bool, transfer: Bool, electorate: Membership) {
        precondition(electorate.isVoter(id), "campaigning outside the electorate")
        let campaignTerm: Term
        if pre {
            becomePreCandidate()
            campaignTerm = term.next
        } else {
            becomeCandidate()
            campaignTerm = term
        }
        self.electorate = electorate
        if poll(from: id, granted: true, pre: pre) { return }
        let type: MessageType = pre ? .requestPreVote : .requestVote
        for voter in electorate.allVoters where voter != id {
            send(Message(type: type, from: id, to: voter, term: campaignTerm, logTerm: log.lastTerm,
                         index: log.lastIndex, context: transfer ? transferCampaignContext : []))
        }
    }

    /// Records a vote and acts on the outcome. Returns whether the campaign ended.
    @discardableResult
    mutating func poll(from voter: NodeID, granted: Bool, pre: Bool) -> Bool {
        tracker.recordVote(from: voter, granted: granted)
        switch tracker.voteResult(in: electorate ?? tracker.membership) {
        case .won:
            if pre {
                campaign(pre: false, transfer: false, electorate: electorate ?? tracker.membership)
            } else {
                becomeLeader()
                broadcastAppend()
            }
            return true
        case .lost:
            if pre { coverage.record(.preVoteLost) }
            becomeFollower(term: term, leader: nil)
            return true
        case .pending:
            return false
        }
    }
}
