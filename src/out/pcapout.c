/* pcap writer on libpcap's dumper. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapout.h"

struct pcap_writer {
	pcap_t *dead;
	pcap_dumper_t *dump;
};

struct pcap_writer *pcapw_fopen(FILE *fp, char *err, size_t errlen)
{
	struct pcap_writer *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->dead = pcap_open_dead(DLT_RAW, 262144);
	if (w->dead == NULL) {
		snprintf(err, errlen, "pcap: cannot open a raw-IP handle");
		free(w);
		return NULL;
	}
	w->dump = pcap_dump_fopen(w->dead, fp);
	if (w->dump == NULL) {
		snprintf(err, errlen, "%s", pcap_geterr(w->dead));
		pcap_close(w->dead);
		free(w);
		return NULL;
	}
	return w;
}

void pcapw_write(struct pcap_writer *w, const uint8_t *pkt, size_t len,
		 int64_t realtime_ns)
{
	pcapw_write_cut(w, pkt, len, len, realtime_ns);
}

void pcapw_write_cut(struct pcap_writer *w, const uint8_t *pkt,
		     size_t caplen, size_t len, int64_t realtime_ns)
{
	struct pcap_pkthdr h;

	if (w == NULL)
		return;
	memset(&h, 0, sizeof(h));
	h.ts.tv_sec = (time_t)(realtime_ns / 1000000000);
	h.ts.tv_usec = (suseconds_t)((realtime_ns % 1000000000) / 1000);
	h.caplen = (bpf_u_int32)caplen;
	h.len = (bpf_u_int32)len;
	pcap_dump((u_char *)w->dump, &h, pkt);
}

int pcapw_close(struct pcap_writer *w)
{
	int bad;

	if (w == NULL)
		return 0;
	/* pcap_dump_close() closes the file without saying how it went. */
	bad = pcap_dump_flush(w->dump) != 0 || ferror(pcap_dump_file(w->dump));
	pcap_dump_close(w->dump);
	pcap_close(w->dead);
	free(w);
	return bad ? -1 : 0;
}
