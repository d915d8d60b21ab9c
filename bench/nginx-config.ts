/** nginx's configuration for the peer, nginx + nchan (see bench/README.md, "The servers"). */
import type { BenchCertificate } from './tls.js'

export const NCHAN_MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so'

/**
 * nginx's config for the peer. The hub's concepts map one to one: `GET /subscribe?channels=a,b`
 * is nchan's EventSource subscriber on the channel ids a and b (split on commas); the publisher
 * location takes one message per POST at `/publish?channel=a`, whose body (the event's JSON) is
 * what subscribers get as `data:`, with `event: bench`. Every channel keeps its last 1,000
 * messages (the hub's default history). A subscriber starts at the next message published, as
 * a fresh EventSource on the hub does. With `tls` the server listens with TLS only, HTTP/2 by
 * ALPN and HTTP/1.1 for clients that do not offer it, as the hub does with a certificate.
 */
export function nginxConfig (dir: string, port: number, tls?: BenchCertificate): string {
  const listen = tls === undefined
    ? `listen 127.0.0.1:${port} backlog=4096;`
    : `listen 127.0.0.1:${port} ssl http2 backlog=4096;\n    ssl_certificate ${tls.certPath};\n    ssl_certificate_key ${tls.keyPath};`
  return `# written by bench/servers.ts
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
load_module ${NCHAN_MODULE};
events {
  # nginx starts closing "reusable" connections (nchan's idle subscribers among them) once fewer
  # than 1/16 of worker_connections are free: 21,000 lets it hold 19,000 subscribers. It warns
  # that this exceeds the open-file limit (20,000), which caps the sockets anyway.
  worker_connections 21000;
  multi_accept on;
}
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_buffer_size 64k;
  nchan_shared_memory_size 2048m;
  server {
    ${listen}
    location = /subscribe {
      nchan_subscriber eventsource;
      nchan_channel_id $arg_channels;
      nchan_channel_id_split_delimiter ",";
      nchan_subscriber_first_message newest;
    }
    location = /publish {
      nchan_publisher http;
      nchan_channel_id $arg_channel;
      nchan_message_buffer_length 1000;
      nchan_message_timeout 1h;
      nchan_eventsource_event bench;
    }
    location = /health {
      return 200 "ok\\n";
    }
  }
}
`
}
