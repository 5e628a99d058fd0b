/* judge_names: the names findings, facts and comparisons go by in JSON
 * and in words (the schema's enums). */
#include "judge.h"

static const char *const cause_names[CAUSE_KIND_COUNT] = {
	[CAUSE_ECN_HASH] = "ecn-hash",
	[CAUSE_PER_PACKET_LB] = "per-packet-lb",
	[CAUSE_BLEACHING] = "bleaching",
	[CAUSE_MANGLING] = "mangling",
	[CAUSE_CE_MARKING] = "ce-marking",
	[CAUSE_ECT_BLACKHOLE] = "ect-blackhole",
	[CAUSE_SYN_ECN_DROP] = "syn-ecn-drop",
	[CAUSE_SYN_ECN_RESET] = "syn-ecn-reset",
	[CAUSE_ECT_RESET] = "ect-reset",
	[CAUSE_CE_HASH] = "ce-hash",
	[CAUSE_TTL_HASH] = "ttl-hash",
	[CAUSE_FLOWLABEL_HASH] = "flowlabel-hash",
	[CAUSE_FRAGMENT_PATH] = "fragment-path",
	[NOTE_DSCP_HASH] = "dscp-hash",
	[NOTE_SAFE_MULTIPATH] = "safe-multipath",
	[NOTE_ECN_PATH_ONE_SITE] = "ecn-dependent-path-one-site",
	[NOTE_ECN_DECLINED] = "ecn-declined",
	[NOTE_TARGET_NOT_REACHED] = "target-not-reached",
	[NOTE_DSCP_REMARK] = "dscp-remark",
	[NOTE_LOSS] = "loss",
	[NOTE_UNCONFIRMED] = "unconfirmed",
	[NOTE_SERVER_REFUSED] = "server-refused",
};

static const char *const fact_names[FACT_COUNT] = {
	[FACT_SPORT] = "sport",
	[FACT_ECN_A] = "ecn_a",
	[FACT_ECN_B] = "ecn_b",
	[FACT_SPLIT_HOP] = "split_hop",
	[FACT_REPEATS] = "repeats",
	[FACT_REPEATS_AGREED] = "repeats_agreed",
	[FACT_TEST] = "comparison",
	[FACT_TEST_N] = "ecn_trials",
	[FACT_TEST_BAD] = "ecn_failed",
	[FACT_CONTROL_N] = "control_trials",
	[FACT_CONTROL_BAD] = "control_failed",
	[FACT_RESET_OTHER] = "reset_by_other",
	[FACT_SYNACK_TTL] = "synack_ttl",
	[FACT_RST_TTL] = "rst_ttl",
	[FACT_ALL_ECT_N] = "all_ect_trials",
	[FACT_ALL_ECT_OK] = "all_ect_delivered",
	[FACT_ALL_ECT_RESET] = "all_ect_reset",
	[FACT_SENT_ECN] = "sent_ecn",
	[FACT_QUOTED_ECN] = "quoted_ecn",
	[FACT_QUOTE_HOP] = "quote_hop",
	[FACT_ALSO_AFTER] = "routers_after_agreeing",
	[FACT_AFTER_OF] = "routers_after",
	[FACT_DSCP_TOO] = "dscp_changed",
	[FACT_REACH_HOP] = "ect_reach_hop",
	[FACT_PLAIN_DEST_HOP] = "not_ect_dest_hop",
	[FACT_RST_HOPS] = "rst_return_hops",
	[FACT_SCREEN_FLOWS] = "flows",
	[FACT_SCREEN_HOP] = "screen_hop",
	[FACT_ECN_DECLINED] = "ecn_declined",
	[FACT_ECN_CONNS] = "ecn_connections",
	[FACT_ECN_OK] = "ecn_ok",
	[FACT_ALT_HOP] = "other_protocol_hop",
	[FACT_ALT_PROTO] = "other_protocol",
	[FACT_SITE_FLOWS] = "site_flows",
	[FACT_SITE_SPORT] = "site_sport",
	[FACT_SITE_HOPS_A] = "site_not_ect_hops",
	[FACT_SITE_HOPS_B] = "site_ect0_hops",
	[FACT_SITE_QUIC_A] = "site_not_ect_quic_version",
	[FACT_SITE_QUIC_B] = "site_ect0_quic_version",
	[FACT_FIELD] = "field",
	[FACT_VALUE_A] = "control_value",
	[FACT_VALUE_B] = "value",
	[FACT_AT_END] = "at_target",
	[FACT_CE_FLOWS] = "ce_only_flows",
	[FACT_FORK_FLOWS] = "fork_flows",
	[FACT_SITE_PARTED] = "site_ect0_parted_same_machine",
	[FACT_SITE_PARTED_CONTROL] = "site_control_parted_same_machine",
	[FACT_SITE_ELSEWHERE] = "site_ect0_other_address",
	[FACT_SITE_ELSEWHERE_CONTROL] = "site_control_other_address",
	[FACT_HOPS_ONLY] = "return_hops_only",
};

static const char *const cmp_names[CMP_COUNT] = {
	[CMP_SYN_ANSWER] = "syn-unanswered",
	[CMP_SYN_RESET] = "syn-reset",
	[CMP_DATA_LOST] = "data-lost",
	[CMP_DATA_RESET] = "data-reset",
	[CMP_DEST_ECT] = "probe-lost",
	[CMP_SITE_ECT] = "site-moved",
};

const char *cause_name(enum cause_kind k)
{
	return k < CAUSE_KIND_COUNT ? cause_names[k] : "?";
}

const char *fact_name(enum fact k)
{
	return k < FACT_COUNT ? fact_names[k] : "?";
}

const char *comparison_name(enum comparison c)
{
	return c < CMP_COUNT ? cmp_names[c] : "?";
}

const char *lb_name(enum lb_kind k)
{
	return k == LB_PER_FLOW ? "per-flow" : k == LB_PER_PACKET ? "per-packet"
								  : "none";
}

const char *diag_status_name(enum diag_status s)
{
	switch (s) {
	case DIAG_BROKEN: return "broken";
	case DIAG_INCONCLUSIVE: return "inconclusive";
	case DIAG_LATENT: return "latent";
	default: return "healthy";
	}
}
