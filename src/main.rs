//! shoal-server: parse arguments and configuration, then run the server.

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn usage() {
    eprintln!(
        "Usage: ./shoal-server [/path/to/redis.conf] [options] [-]
       ./shoal-server - (read config from stdin)
       ./shoal-server -v or --version
       ./shoal-server -h or --help

Examples:
       ./shoal-server (run the server with default conf)
       echo 'maxmemory 128mb' | ./shoal-server -
       ./shoal-server /etc/redis/6379.conf
       ./shoal-server --port 7777
       ./shoal-server --port 7777 --replicaof 127.0.0.1 8888
       ./shoal-server /etc/myredis.conf --loglevel verbose -"
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("-v") | Some("--version") => {
            println!(
                "Redis server v={} sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=shoal-{}",
                shoal::REDIS_VERSION,
                shoal::SHOAL_VERSION
            );
            return;
        }
        Some("-h") | Some("--help") => {
            usage();
            return;
        }
        _ => {}
    }
    let (config, _startup) = match shoal::config::load_startup_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = shoal::logging::init(&config) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    if let Err(e) = write_pidfile(&config) {
        tracing::warn!("Failed to write PID file: {e}");
    }
    std::process::exit(shoal::server::run(config));
}

fn write_pidfile(config: &shoal::config::Config) -> std::io::Result<()> {
    let path = config.get("pidfile");
    if path.is_empty() {
        return Ok(());
    }
    std::fs::write(path, format!("{}\n", std::process::id()))
}
