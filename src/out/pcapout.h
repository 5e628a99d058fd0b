/* pcap writer: every probe sent and every reply received, as raw IP
 * packets (LINKTYPE_RAW), so tcpdump and Wireshark read the file. */
#ifndef ECNTRACE_PCAPOUT_H
#define ECNTRACE_PCAPOUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct pcap_writer;

/* Write to fp (an outfile's), which the writer then owns and closes.
 * Returns NULL and writes a one-line message into err on failure; fp is
 * then still the caller's. */
struct pcap_writer *pcapw_fopen(FILE *fp, char *err, size_t errlen);
/* realtime_ns: wall-clock time of the packet. */
void pcapw_write(struct pcap_writer *w, const uint8_t *pkt, size_t len,
		 int64_t realtime_ns);
/* The same for a packet of which only caplen of its len bytes are here. */
void pcapw_write_cut(struct pcap_writer *w, const uint8_t *pkt,
		     size_t caplen, size_t len, int64_t realtime_ns);
/* Flush and close; 0, or -1 if anything could not be written. */
int pcapw_close(struct pcap_writer *w);

#endif
