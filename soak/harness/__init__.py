"""Process orchestration shared by the soak scenarios and the website benchmark."""
