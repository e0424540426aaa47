/* Crypto Trader backtest report: draws the embedded run with Lightweight Charts.
 *
 * Every text the page shows comes from the data block and goes in through
 * textContent, never as markup. The page loads nothing: its content security
 * policy forbids any network access, and this script never asks for one.
 */
(function () {
  'use strict';

  var root = document.documentElement;
  var problems = [];

  function noteProblem(message) {
    problems.push(String(message));
    root.dataset.errors = problems.join(' | ');
  }

  window.addEventListener('error', function (event) {
    noteProblem(event.message || 'script error');
  });
  window.addEventListener('unhandledrejection', function (event) {
    noteProblem('unhandled rejection: ' + event.reason);
  });
  document.addEventListener('securitypolicyviolation', function (event) {
    noteProblem('blocked by the content security policy: ' +
      event.violatedDirective + ' ' + event.blockedURI);
  });

  var COLORS = {
    up: '#26a69a',
    down: '#ef5350',
    win: '#059669',
    loss: '#dc2626',
    open: '#2563eb',
    equity: '#2563eb',
    drawdown: '#dc2626',
    text: '#334155',
    grid: '#f1f5f9',
    border: '#e2e8f0',
    watermark: 'rgba(100, 116, 139, 0.55)'
  };
  var PALETTE = ['#f59e0b', '#8b5cf6', '#0ea5e9', '#ec4899', '#84cc16', '#14b8a6',
    '#f97316', '#6366f1'];
  var REASON_MARK = new Map([['stop-loss', 'SL'], ['take-profit', 'TP'],
    ['trailing-stop', 'TS']]);
  var KNOWN_REASONS = ['signal', 'stop-loss', 'take-profit', 'trailing-stop', 'open'];
  var FIRST_ROWS = 500;
  var DASH = '\u2014';

  document.addEventListener('DOMContentLoaded', function () {
    var started = performance.now();
    try {
      var data = JSON.parse(byId('report-data').textContent);
      drawHeader(data);
      drawMetrics(data.metrics || []);
      drawConventions(data.conventions || []);
      drawTrades(data.trades || [], drawChart(data));
      root.dataset.drawMs = String(Math.round(performance.now() - started));
      root.dataset.rendered = 'ok';
    } catch (error) {
      noteProblem(error && error.stack ? error.stack : error);
      var box = byId('report-problem');
      box.textContent = 'This report could not be drawn: ' + error;
      box.hidden = false;
    }
  });

  function byId(id) {
    return document.getElementById(id);
  }

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  /* ---- formatting ---- */

  function formatNumber(value, digits) {
    if (value === null || value === undefined) return DASH;
    if (typeof value !== 'number') return String(value);
    if (!Number.isFinite(value)) return DASH;
    if (digits !== undefined) {
      return value.toLocaleString('en-US', {
        minimumFractionDigits: digits, maximumFractionDigits: digits
      });
    }
    if (Number.isInteger(value)) return value.toLocaleString('en-US');
    var size = Math.abs(value);
    if (size >= 1) {
      return value.toLocaleString('en-US', {
        minimumFractionDigits: 2, maximumFractionDigits: 2
      });
    }
    return value.toLocaleString('en-US', { maximumSignificantDigits: 4 });
  }

  function formatTime(seconds) {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
      return seconds === null || seconds === undefined ? DASH : String(seconds);
    }
    var date = new Date(seconds * 1000);
    if (Number.isNaN(date.getTime())) return String(seconds);
    return date.toISOString().slice(0, 16).replace('T', ' ');
  }

  function formatDuration(seconds) {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return DASH;
    var minutes = Math.round(seconds / 60);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var rest = minutes % 60;
    if (days > 0) return days + 'd ' + hours + 'h';
    if (hours > 0) return hours + 'h ' + rest + 'm';
    return rest + 'm';
  }

  function signClass(value) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value === 0) return '';
    return value > 0 ? 'positive' : 'negative';
  }

  function pricePrecision(closes) {
    var sorted = closes.filter(function (v) { return v > 0; }).sort(function (a, b) {
      return a - b;
    });
    if (sorted.length === 0) return 2;
    var median = sorted[Math.floor(sorted.length / 2)];
    var digits = Math.ceil(4 - Math.log10(median));
    return Math.min(10, Math.max(2, digits));
  }

  /* ---- header, metrics, conventions ---- */

  function drawHeader(data) {
    var title = String(data.title || 'Backtest report');
    byId('report-title').textContent = title;
    document.title = title;
    var times = (data.candles && data.candles.time) || [];
    if (times.length > 0) {
      byId('report-period').textContent = formatTime(times[0]) + ' \u2192 ' +
        formatTime(times[times.length - 1]) + ' UTC \u00b7 ' +
        formatNumber(times.length) + ' candles';
    }
  }

  function drawMetrics(metrics) {
    var list = byId('metrics');
    metrics.forEach(function (metric) {
      var label = String(metric.label);
      var value = metric.value;
      var box = element('div', undefined, 'metric');
      box.appendChild(element('dt', label));
      var shown = element('dd', formatNumber(value));
      if (value === null || value === undefined) {
        shown.className = 'missing';
        shown.title = 'not defined for this run (nothing to divide by)';
      } else if (/return|cagr|p&l|pnl|expectancy/i.test(label)) {
        shown.className = signClass(value);
      }
      box.appendChild(shown);
      list.appendChild(box);
    });
  }

  function drawConventions(conventions) {
    var list = byId('conventions');
    if (conventions.length === 0) list.closest('section').hidden = true;
    conventions.forEach(function (line) {
      list.appendChild(element('li', String(line)));
    });
  }

  /* ---- the chart ---- */

  function nearestIndex(times, time) {
    var low = 0;
    var high = times.length - 1;
    if (high < 0 || time <= times[0]) return 0;
    while (low < high) {
      var middle = (low + high + 1) >> 1;
      if (times[middle] <= time) low = middle; else high = middle - 1;
    }
    return low;
  }

  function lineData(times, values) {
    var points = new Array(times.length);
    for (var i = 0; i < times.length; i++) {
      var value = i < values.length ? values[i] : null;
      points[i] = typeof value === 'number' ? { time: times[i], value: value } :
        { time: times[i] };
    }
    return points;
  }

  function overlaysPrice(values, closes) {
    var seen = 0;
    var near = 0;
    for (var i = 0; i < values.length && i < closes.length; i++) {
      if (typeof values[i] !== 'number' || !(closes[i] > 0)) continue;
      seen += 1;
      var ratio = values[i] / closes[i];
      if (ratio > 0.5 && ratio < 2) near += 1;
    }
    return seen === 0 || near >= 0.9 * seen;
  }

  function tradeColor(trade) {
    if (trade.exit_time === null || trade.exit_time === undefined) return COLORS.open;
    return trade.pnl > 0 ? COLORS.win : COLORS.loss;
  }

  function tradeMarkers(trades, times) {
    var markers = [];
    trades.forEach(function (trade) {
      var color = tradeColor(trade);
      if (typeof trade.entry_time === 'number') {
        markers.push({
          time: times[nearestIndex(times, trade.entry_time)],
          position: 'belowBar', shape: 'arrowUp', color: color
        });
      }
      if (typeof trade.exit_time === 'number') {
        markers.push({
          time: times[nearestIndex(times, trade.exit_time)],
          position: 'aboveBar', shape: 'arrowDown', color: color,
          text: REASON_MARK.get(trade.exit_reason) || ''
        });
      }
    });
    markers.sort(function (a, b) { return a.time - b.time; });
    return markers;
  }

  function addWatermark(LC, chart, paneIndex, text) {
    LC.createTextWatermark(chart.panes()[paneIndex], {
      horzAlign: 'left',
      vertAlign: 'top',
      lines: [{ text: text, color: COLORS.watermark, fontSize: 12 }]
    });
  }

  function createChart(LC, container) {
    return LC.createChart(container, {
      autoSize: true,
      layout: {
        background: { type: 'solid', color: '#ffffff' },
        textColor: COLORS.text,
        fontSize: 11,
        panes: { separatorColor: COLORS.border, enableResize: true }
      },
      grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
      rightPriceScale: { borderColor: COLORS.border, scaleMargins: { top: 0.08, bottom: 0.06 } },
      timeScale: {
        borderColor: COLORS.border, timeVisible: true, secondsVisible: false,
        minBarSpacing: 0.001
      },
      crosshair: { mode: LC.CrosshairMode.Normal }
    });
  }

  function drawChart(data) {
    var LC = window.LightweightCharts;
    if (!LC) throw new Error('the charting library did not load');
    var candles = data.candles;
    var times = candles.time;
    var bars = new Array(times.length);
    for (var i = 0; i < times.length; i++) {
      bars[i] = {
        time: times[i], open: candles.open[i], high: candles.high[i],
        low: candles.low[i], close: candles.close[i]
      };
    }
    var precision = pricePrecision(candles.close);
    var container = byId('chart');
    var chart = createChart(LC, container);

    var price = chart.addSeries(LC.CandlestickSeries, {
      upColor: COLORS.up, downColor: COLORS.down, borderVisible: false,
      wickUpColor: COLORS.up, wickDownColor: COLORS.down,
      priceFormat: { type: 'price', precision: precision, minMove: Math.pow(10, -precision) }
    }, 0);
    price.setData(bars);
    var markers = tradeMarkers(data.trades || [], times);
    LC.createSeriesMarkers(price, markers);

    var lines = drawIndicators(LC, chart, data.indicators || {}, times, candles.close,
      precision);
    var nextPane = lines.oscillators ? 2 : 1;
    var equity = chart.addSeries(LC.AreaSeries, {
      lineColor: COLORS.equity, lineWidth: 2,
      topColor: 'rgba(37, 99, 235, 0.25)', bottomColor: 'rgba(37, 99, 235, 0.02)',
      priceFormat: { type: 'price', precision: 2, minMove: 0.01 }
    }, nextPane);
    equity.setData(lineData(times, data.equity || []));
    var drawdownValues = (data.drawdown_pct || []).map(function (v) {
      return typeof v === 'number' ? -v : v;
    });
    var drawdown = chart.addSeries(LC.AreaSeries, {
      lineColor: COLORS.drawdown, lineWidth: 1, invertFilledArea: true,
      topColor: 'rgba(220, 38, 38, 0.05)', bottomColor: 'rgba(220, 38, 38, 0.35)',
      priceFormat: {
        type: 'custom', minMove: 0.01,
        formatter: function (v) { return v.toFixed(2) + '%'; }
      }
    }, nextPane + 1);
    drawdown.setData(lineData(times, drawdownValues));

    arrangePanes(LC, chart, container, lines.oscillators);
    chart.timeScale().fitContent();
    var view = { chart: chart, times: times, container: container, precision: precision };
    connectLegend(chart, price, lines.series, equity, drawdown, times, precision);
    byId('fit-all').addEventListener('click', function () {
      chart.timeScale().fitContent();
    });
    var logButton = byId('log-scale');
    logButton.addEventListener('click', function () {
      var logarithmic = logButton.getAttribute('aria-pressed') !== 'true';
      logButton.setAttribute('aria-pressed', String(logarithmic));
      price.priceScale().applyOptions({
        mode: logarithmic ? LC.PriceScaleMode.Logarithmic : LC.PriceScaleMode.Normal
      });
    });
    root.dataset.candles = String(bars.length);
    root.dataset.markers = String(markers.length);
    root.dataset.panes = String(chart.panes().length);
    return view;
  }

  function drawIndicators(LC, chart, indicators, times, closes, precision) {
    var series = [];
    var oscillators = false;
    Object.keys(indicators).forEach(function (name, index) {
      var values = indicators[name] || [];
      var overlay = overlaysPrice(values, closes);
      oscillators = oscillators || !overlay;
      var color = PALETTE[index % PALETTE.length];
      var options = {
        color: color, lineWidth: overlay ? 2 : 1.5, title: name,
        priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false,
        priceFormat: overlay ?
          { type: 'price', precision: precision, minMove: Math.pow(10, -precision) } :
          { type: 'price', precision: 2, minMove: 0.01 }
      };
      var kind = /hist/i.test(name) && !overlay ? LC.HistogramSeries : LC.LineSeries;
      var line = chart.addSeries(kind, options, overlay ? 0 : 1);
      line.setData(lineData(times, values));
      series.push({ name: name, api: line });
    });
    return { series: series, oscillators: oscillators };
  }

  function arrangePanes(LC, chart, container, oscillators) {
    var labels = oscillators ?
      ['Price', 'Indicators', 'Equity (quote)', 'Drawdown (%)'] :
      ['Price', 'Equity (quote)', 'Drawdown (%)'];
    var stretch = oscillators ? [4.6, 1.5, 2.2, 1.3] : [5, 2.4, 1.4];
    var height = oscillators ? 860 : 740;
    container.style.height = height + 'px';
    chart.panes().forEach(function (pane, index) {
      pane.setStretchFactor(stretch[index]);
      addWatermark(LC, chart, index, labels[index]);
    });
  }

  function connectLegend(chart, price, lines, equity, drawdown, times, precision) {
    var legend = byId('legend');
    function show(time, bar, lookup) {
      if (!bar) {
        legend.textContent = '';
        return;
      }
      var parts = [formatTime(time) + ' UTC',
        'O ' + formatNumber(bar.open, precision), 'H ' + formatNumber(bar.high, precision),
        'L ' + formatNumber(bar.low, precision), 'C ' + formatNumber(bar.close, precision)];
      lines.forEach(function (line) {
        var point = lookup(line.api);
        if (point && typeof point.value === 'number') {
          parts.push(line.name + ' ' + formatNumber(point.value));
        }
      });
      var value = lookup(equity);
      if (value && typeof value.value === 'number') {
        parts.push('equity ' + formatNumber(value.value, 2));
      }
      var fall = lookup(drawdown);
      if (fall && typeof fall.value === 'number') {
        parts.push('drawdown ' + formatNumber(-fall.value, 2) + '%');
      }
      legend.textContent = parts.join('   ');
    }
    var last = times.length - 1;
    function lastPoint(series) {
      return last >= 0 ? series.dataByIndex(last) : null;
    }
    show(times[last], lastPoint(price), lastPoint);
    chart.subscribeCrosshairMove(function (param) {
      if (!param.time) {
        show(times[last], lastPoint(price), lastPoint);
        return;
      }
      show(param.time, param.seriesData.get(price), function (series) {
        return param.seriesData.get(series);
      });
    });
  }

  /* ---- the trade list ---- */

  function tradeColumns(precision) {
    function price(value) { return formatNumber(value, precision); }
    function quote(value) { return formatNumber(value, 2); }
    function amount(value) {
      if (typeof value !== 'number') return formatNumber(value);
      return value.toLocaleString('en-US', { maximumSignificantDigits: 6 });
    }
    function field(name) { return function (trade) { return trade[name]; }; }
    return [
      { title: '#', value: field('number') },
      { title: 'Entry (UTC)', value: field('entry_time'), show: formatTime },
      { title: 'Exit (UTC)', value: field('exit_time'), show: formatTime },
      { title: 'Entry price', value: field('entry_price'), show: price },
      { title: 'Exit price', value: field('exit_price'), show: price },
      { title: 'Amount (base)', value: field('amount'), show: amount },
      { title: 'P&L (quote)', value: field('pnl'), show: quote, signed: true },
      { title: 'P&L (%)', value: field('pnl_pct'), show: quote, signed: true },
      { title: 'Duration', value: field('duration'), show: formatDuration },
      { title: 'Exit reason', value: field('exit_reason'), reason: true }
    ];
  }

  function compareValues(a, b) {
    var aMissing = a === null || a === undefined;
    var bMissing = b === null || b === undefined;
    if (aMissing || bMissing) return aMissing === bMissing ? 0 : (aMissing ? 1 : -1);
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return String(a).localeCompare(String(b));
  }

  function tradeCell(column, trade) {
    var value = column.value(trade);
    var text = column.show ? column.show(value) : formatNumber(value);
    var cell = element('td');
    if (column.reason) {
      var pill = element('span', value === null || value === undefined ? DASH :
        String(value), 'reason');
      if (KNOWN_REASONS.indexOf(value) >= 0) pill.classList.add(value);
      cell.appendChild(pill);
    } else {
      cell.textContent = text;
      if (column.signed) cell.className = signClass(value);
    }
    return cell;
  }

  function summarise(trades) {
    var wins = 0;
    var losses = 0;
    var open = 0;
    trades.forEach(function (trade) {
      if (trade.exit_time === null || trade.exit_time === undefined) open += 1;
      else if (trade.pnl > 0) wins += 1;
      else losses += 1;
    });
    var text = formatNumber(trades.length) + (trades.length === 1 ? ' trade' : ' trades') +
      ': ' + formatNumber(wins) + ' won, ' + formatNumber(losses) + ' lost';
    return open > 0 ? text + ', ' + formatNumber(open) + ' still open' : text;
  }

  function drawTrades(rawTrades, view) {
    var trades = rawTrades.map(function (trade, index) {
      var copy = Object.assign({}, trade);
      copy.number = index + 1;
      copy.duration = typeof trade.exit_time === 'number' &&
        typeof trade.entry_time === 'number' ? trade.exit_time - trade.entry_time : null;
      return copy;
    });
    var columns = tradeColumns(view.precision);
    var state = { column: 0, descending: false, limit: FIRST_ROWS };
    var head = byId('trade-columns');
    var body = byId('trade-rows');
    var more = byId('show-all-trades');
    byId('trade-summary').textContent = summarise(trades);

    var headers = columns.map(function (column, index) {
      var th = element('th', column.title);
      th.scope = 'col';
      th.addEventListener('click', function () {
        state.descending = state.column === index ? !state.descending : false;
        state.column = index;
        render();
      });
      head.appendChild(th);
      return th;
    });

    function render() {
      var column = columns[state.column];
      var order = trades.slice().sort(function (a, b) {
        var result = compareValues(column.value(a), column.value(b));
        if (state.descending) result = -result;
        return result || a.number - b.number;
      });
      headers.forEach(function (th, index) {
        if (index === state.column) {
          th.setAttribute('aria-sort', state.descending ? 'descending' : 'ascending');
        } else {
          th.removeAttribute('aria-sort');
        }
      });
      var rows = document.createDocumentFragment();
      order.slice(0, state.limit).forEach(function (trade) {
        var row = element('tr');
        columns.forEach(function (col) { row.appendChild(tradeCell(col, trade)); });
        row.addEventListener('click', function () { focusTrade(view, trade); });
        rows.appendChild(row);
      });
      body.replaceChildren(rows);
      more.hidden = order.length <= state.limit;
      more.textContent = 'Show all ' + formatNumber(order.length) + ' trades';
      root.dataset.tradeRows = String(body.rows.length);
    }

    more.addEventListener('click', function () {
      state.limit = Infinity;
      render();
    });
    render();
  }

  function focusTrade(view, trade) {
    if (typeof trade.entry_time !== 'number') return;
    var first = nearestIndex(view.times, trade.entry_time);
    var last = typeof trade.exit_time === 'number' ?
      nearestIndex(view.times, trade.exit_time) : view.times.length - 1;
    var margin = Math.max(30, last - first);
    view.chart.timeScale().setVisibleLogicalRange({ from: first - margin, to: last + margin });
    view.container.scrollIntoView({ behavior: 'smooth', block: 'center' });
  }
})();
