// Usage charts: spend by day (stacked by model on the account page) and by
// model, drawn by Chart.js from the figures the page also lists in its tables
// (the tables are the accessible version; the canvases say so).
import "../vendor/chart.js/chart.umd.min.js";

const PALETTE = ["#e0a050", "#7cb7ff", "#5cc48a", "#ff7b72", "#c792ea", "#e3b341", "#4fd1c5", "#f78fb3"];

const dollars = (value) => {
  const amount = Number(value);
  if (amount === 0) return "$0";
  if (amount >= 0.1) return `$${amount.toFixed(2)}`;
  if (amount >= 0.01) return `$${amount.toFixed(3).replace(/0$/, "")}`;
  return `$${amount.toPrecision(2)}`;
};

function readData(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}

function barChart(canvas, data, { stacked, horizontal = false }) {
  const Chart = globalThis.Chart;
  if (!Chart || !canvas) return null;
  const styles = getComputedStyle(document.documentElement);
  const text = styles.getPropertyValue("--muted").trim() || "#a3a7ae";
  const line = styles.getPropertyValue("--line").trim() || "#33373e";
  Chart.defaults.color = text;
  Chart.defaults.borderColor = line;
  const valueAxis = { stacked, beginAtZero: true, ticks: { callback: dollars } };
  const categoryAxis = { stacked, ticks: { autoSkip: true, maxRotation: 0 } };
  return new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: data.datasets.map((dataset, index) => ({
        ...dataset,
        backgroundColor: PALETTE[index % PALETTE.length],
      })),
    },
    options: {
      indexAxis: horizontal ? "y" : "x",
      maintainAspectRatio: false,
      animation: false,
      scales: horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis },
      plugins: {
        legend: { display: data.datasets.length > 1, position: "bottom" },
        tooltip: {
          callbacks: {
            label: (item) => `${item.dataset.label}: ${dollars(item.raw)}`,
          },
        },
      },
    },
  });
}

const month = readData("spend-chart-data");
if (month) {
  barChart(document.getElementById("spend-chart"), month, { stacked: true });
}
const operator = readData("usage-chart-data");
if (operator) {
  barChart(document.getElementById("usage-days-chart"), operator.days, { stacked: false });
  barChart(document.getElementById("usage-models-chart"), operator.models, {
    stacked: false,
    horizontal: true,
  });
}
