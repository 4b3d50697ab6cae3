"""MongoDB storage of quotes and orders, for analysing the strategies afterwards."""
