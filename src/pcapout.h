/* pcap writer: every probe sent and every reply received, as raw IP
 * packets (LINKTYPE_RAW), so tcpdump and Wireshark read the file. */
#ifndef ECNTRACE_PCAPOUT_H
#define ECNTRACE_PCAPOUT_H

#include <stddef.h>
#include <stdint.h>

struct pcap_writer;

/* Returns NULL and writes a one-line message into err on failure. */
struct pcap_writer *pcapw_open(const char *path, char *err, size_t errlen);
/* realtime_ns: wall-clock time of the packet. */
void pcapw_write(struct pcap_writer *w, const uint8_t *pkt, size_t len,
		 int64_t realtime_ns);
/* The same for a packet of which only caplen of its len bytes are here. */
void pcapw_write_cut(struct pcap_writer *w, const uint8_t *pkt,
		     size_t caplen, size_t len, int64_t realtime_ns);
void pcapw_close(struct pcap_writer *w);

#endif
